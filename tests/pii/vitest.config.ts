import { defineConfig } from "vitest/config";

// PII module only: no database global setup.
export default defineConfig({
  test: {
    include: ["tests/pii/**/*.test.ts", "shared/pii/**/*.test.ts"],
  },
});
