// Runs after `npm install`: builds the web app into web/dist so `npm start` serves it at /ui/.
// A production install (--omit=dev) has no Vite: it skips the build and says so. A failed build does not fail
// the install (the gateway then answers /ui/ with a page asking for `npm run build:web`), but it is reported.
let vite
try {
  vite = await import('vite')
} catch {
  console.log('ccproxy: the web app is not built (Vite is a dev dependency and is not installed); run `npm run build:web` where it is.')
  process.exit(0)
}
try {
  await vite.build({ configFile: new URL('./vite.config.ts', import.meta.url).pathname, logLevel: 'warn' })
  console.log('ccproxy: built the web app into web/dist')
} catch (error) {
  console.warn(`ccproxy: building the web app failed; /ui/ is not served until \`npm run build:web\` succeeds.\n${error?.stack ?? error}`)
}
