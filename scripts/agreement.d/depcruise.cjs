// dependency-cruiser configuration for the agreement check (scripts/agreement), configured as
// fairly as the tool allows against provis's edge policy (docs/pipeline.md#import-resolution):
// - tsPreCompilationDeps: keep type-only imports (provis: edges of kind `type`);
// - the package's own tsconfig.json when there is one (baseUrl/paths as provis reads them);
// - combinedDependencies: package.json dependencies of parent folders count too;
// - node_modules and the directories provis's discovery ignores (dist, build, …) are not
//   followed: their files are not cruised, but edges into them stay visible;
// - the resolver keeps dependency-cruiser's own defaults (extensions, main fields, conditions
//   import/require/node/default/types), so where it and provis disagree the check shows it.
// It is run with the working directory at the package's root.
const fs = require("node:fs");

const ignored = [
  "node_modules", ".git", ".svn", ".hg", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache",
  ".pytest_cache", "dist", "build", ".next", ".nuxt", "coverage", ".cache", ".turbo",
];
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const options = {
  tsPreCompilationDeps: true,
  combinedDependencies: true,
  // Not `exclude`: that would also drop the edges into these folders, which the check reports.
  doNotFollow: { path: `(^|/)(${ignored.map(escape).join("|")})/|\\.min\\.js$` },
  moduleSystems: ["cjs", "es6", "tsd", "amd"],
};
for (const name of ["tsconfig.json", "jsconfig.json"]) {
  if (fs.existsSync(name)) {
    options.tsConfig = { fileName: name };
    break;
  }
}

module.exports = { options };
