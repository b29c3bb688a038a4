import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('.', import.meta.url))
// `npm run dev:web` proxies the admin API to a gateway (npm start) on CCPROXY_URL, default :8080.
const gateway = process.env.CCPROXY_URL ?? 'http://localhost:8080'

// The gateway serves the built app at /ui/ from web/dist.
export default defineConfig({
  root,
  base: '/ui/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // the budget (300 KB gzipped initial JavaScript) is checked by web/src/bundle-size.test.ts
    reportCompressedSize: true,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      // changeOrigin off: the gateway compares Origin with its own host for cookie-authenticated writes
      '/api': { target: gateway, changeOrigin: false },
    },
  },
})
