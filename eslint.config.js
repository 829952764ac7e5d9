// Type-checked lint for everything we ship and test. Tests use node:test,
// whose top-level test() returns a promise the runner tracks itself.
import { builtinModules } from "node:module";
import js from "@eslint/js";
import tseslint from "typescript-eslint";

// The layers' import rules (docs/ARCHITECTURE.md). src/proto is sans-IO: of
// Node's modules only node:crypto, no timers, no clocks, nothing from the IO
// shell or the programs. src/daemon never imports the programs (src/cli).
const ioModules = builtinModules.filter((m) => m !== "crypto" && !m.startsWith("_"));
const escape = (m) => m.replace(/[/.]/g, "\\$&");
const IO_MODULES = `^(node:)?(${ioModules.map(escape).join("|")})$`;
const sansIo = "src/proto is sans-IO (docs/ARCHITECTURE.md): the IO shell in src/daemon does this";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "native/build/**", "build/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true },
      ],
    },
  },
  {
    files: ["src/proto/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { regex: IO_MODULES, message: `${sansIo}; of Node's modules only node:crypto` },
            {
              regex: "(^|/)(daemon|cli)/",
              message: `${sansIo}; it imports neither daemon/ nor cli/`,
            },
          ],
        },
      ],
      "no-restricted-globals": [
        "error",
        ...[
          "setTimeout",
          "setInterval",
          "setImmediate",
          "queueMicrotask",
          "performance",
          "process",
        ].map((name) => ({
          name,
          message: `${sansIo}; times, timers and settings come in as arguments`,
        })),
      ],
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: `${sansIo}; the time comes in as an argument` },
      ],
      "no-restricted-syntax": [
        "error",
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: `${sansIo}; the time comes in as an argument`,
        },
      ],
    },
  },
  {
    files: ["src/daemon/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "(^|/)cli/",
              message: "src/daemon does not import the programs (docs/ARCHITECTURE.md)",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["**/*.test.ts", "test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-floating-promises": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
  {
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ["scripts/**/*.mjs", "bin/**/*.js", "eslint.config.js"],
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        URL: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
      },
    },
  },
);
