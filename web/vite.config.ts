import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

const here = decodeURIComponent(new URL('./', import.meta.url).pathname)

// The dashboard is built into dist/web, which the server serves at `/` (src/server/static.ts). Everything is
// bundled: no CDN, no external fonts. Hashed file names under assets/ are cached for a year.
export default defineConfig({
  root: here,
  base: '/',
  plugins: [react()],
  build: {
    outDir: decodeURIComponent(new URL('../dist/web/', import.meta.url).pathname),
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:7070', '/healthz': 'http://127.0.0.1:7070' } },
})
