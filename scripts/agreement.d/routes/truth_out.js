// What every truth_*.js does with its table: JSON to $TRUTH_OUT (apps may log to stdout), else
// to stdout; and how it ends: exit 0 after the table, 2 (with the error) when the app failed
// to load.
const fs = require('fs');

/** Writes the route table [{method, path, module}]. */
function write(table) {
  const text = JSON.stringify(table, null, 1);
  if (process.env.TRUTH_OUT) {
    fs.writeFileSync(process.env.TRUTH_OUT, text);
  } else {
    process.stdout.write(text);
  }
}

/** Runs `main` (async, returning the table), writes its table and exits. */
function run(main) {
  main()
    .then((table) => {
      write(table);
      process.exit(0);
    })
    .catch((e) => {
      console.error(e);
      process.exit(2);
    });
}

module.exports = { write, run };
