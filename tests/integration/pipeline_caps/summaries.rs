//! Summaries of the fixture apps.

use super::*;

#[test]
fn file_summaries_state_the_facts() {
    let (_, _, sums) = express_app().run();
    assert_eq!(sums.files.len(), 11, "one summary per file");
    let users = file_summary(&sums, "src/routes/users.ts");
    assert_eq!(users.title, "Express routes under /users");
    for fact in [
        "Declares 3 routes: GET /users, GET /users/:id, POST /users",
        "Enqueues jobs: email",
        "User (Prisma)",
        "Imports 2 internal modules",
        "Imported by 2 files",
        "Mounted under /users",
    ] {
        assert!(
            users.purpose.contains(fact),
            "{fact:?} not in {:?}",
            users.purpose
        );
    }
    assert_eq!(
        users.key_functions,
        s(&["listUsers", "getUser", "createUser"])
    );
    assert!(users.risks.is_empty());
    assert!(users.blurb.chars().count() <= 200);
    assert!(users
        .blurb
        .starts_with("Express routes under /users. Declares 3 routes"));

    let orders = file_summary(&sums, "src/routes/orders.ts");
    assert_eq!(orders.risks, s(&["1 TODO/FIXME comment"]));

    let worker = file_summary(&sums, "src/workers/email.worker.ts");
    assert_eq!(worker.title, "BullMQ worker for queue email");
    assert!(
        worker.purpose.contains("SendGrid (email)"),
        "{}",
        worker.purpose
    );
    assert!(worker.purpose.contains("SENDGRID_API_KEY"));

    let schema = file_summary(&sums, "prisma/schema.prisma");
    assert_eq!(schema.title, "Prisma schema: User, Order, Product");

    let manifest = file_summary(&sums, "package.json");
    assert!(
        manifest
            .purpose
            .contains("npm package `shop-api` with 5 dependencies"),
        "{}",
        manifest.purpose
    );
}

#[test]
fn summaries_report_risks_and_capability_facts() {
    let (_, doc, sums) = fastapi_app().run();
    let items = file_summary(&sums, "app/routers/items.py");
    assert!(
        items
            .risks
            .iter()
            .any(|r| r.starts_with("SQL built from interpolated strings at line 20")),
        "{:?}",
        items.risks
    );
    assert!(items.risks.iter().any(|r| r == "1 TODO/FIXME comment"));
    let models = file_summary(&sums, "app/models.py");
    assert_eq!(models.title, "SQLAlchemy models: User, Item");
    assert!(
        models.purpose.contains("User (table users)"),
        "{}",
        models.purpose
    );
    let tasks = file_summary(&sums, "app/tasks.py");
    assert_eq!(
        tasks.title,
        "Celery tasks: send_welcome_email, cleanup_unwelcomed"
    );
    assert_eq!(
        tasks.key_functions[..2],
        s(&["send_welcome_email", "cleanup_unwelcomed"])[..]
    );

    assert_eq!(sums.capabilities.len(), doc.capabilities.len());
    let items_cap = sums
        .capabilities
        .iter()
        .find(|c| c.title == "Items API")
        .expect("items");
    assert!(items_cap
        .risks
        .iter()
        .any(|r| r.starts_with("app/routers/items.py: SQL built")));
    assert!(
        items_cap
            .purpose
            .contains("Serves 2 HTTP endpoints (fastapi): GET /items, GET /items/search."),
        "{}",
        items_cap.purpose
    );
    assert!(
        items_cap.blurb.contains("stores Item, items"),
        "{}",
        items_cap.blurb
    );

    let (_, _, dj) = django_app().run();
    let settings = file_summary(&dj, "mysite/settings.py");
    assert!(
        settings.risks.iter().any(
            |r| r == "possible hard-coded secret (literal assigned to a secret name) at line 5"
        ),
        "{:?}",
        settings.risks
    );
    assert!(!settings.risks.iter().any(|r| r.contains("django-insecure")));
    let views = file_summary(&dj, "blog/views.py");
    assert_eq!(views.title, "Django route handlers");
    assert!(
        views.purpose.contains("ANY /blog/<int:pk>/ (post_detail)"),
        "{}",
        views.purpose
    );
}
