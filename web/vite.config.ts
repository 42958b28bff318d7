import tailwindcss from '@tailwindcss/vite'
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// The API is served by `parlor serve`; in development Vite forwards to it.
const apiTarget = 'http://127.0.0.1:8000'

export default defineConfig({
  plugins: [react(), tailwindcss()],
  // The first load stays under 300 KB of gzipped JavaScript (tests/e2e/test_web_budget.py checks it);
  // KaTeX and highlight.js are split out and loaded only for messages that need them.
  build: { chunkSizeWarningLimit: 800 },
  server: {
    proxy: {
      '/api': { target: apiTarget, changeOrigin: true },
      '/v1': { target: apiTarget, changeOrigin: true },
    },
  },
})
