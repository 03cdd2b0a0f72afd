// Lints the built-in web UI (browser ES modules, no build step).
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser },
    },
    rules: {
      eqeqeq: ["error", "always"],
      "no-var": "error",
      "prefer-const": "error",
      "no-implicit-globals": "error",
      "no-eval": "error",
      "no-implied-eval": "error",
      "no-new-func": "error",
      "no-script-url": "error",
      "no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "no-restricted-properties": [
        "error",
        { property: "innerHTML", message: "Build nodes with dom.js h(): text only, never HTML." },
        { property: "outerHTML", message: "Build nodes with dom.js h(): text only, never HTML." },
        { property: "insertAdjacentHTML", message: "Build nodes with dom.js h(): text only, never HTML." },
      ],
      "no-restricted-syntax": [
        "error",
        { selector: "CallExpression[callee.object.name='document'][callee.property.name='write']", message: "No document.write." },
      ],
    },
  },
];
