/**
 * The `yaml` package as an ES module. Its package exports give Deno the CommonJS build (the `node`
 * condition), which loads through Deno's CommonJS loader (about 60 ms of a CLI start against 10 ms
 * for the ES module build, which Deno also keeps in its code cache) and reads `process.env` for every
 * token. The ES module build is the same code without either; its types are the package's own.
 *
 * @module
 */

// @ts-types="yaml"
export * from "../../node_modules/yaml/browser/dist/index.js";
