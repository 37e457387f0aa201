/**
 * GET /docs: Swagger UI over /openapi.json, served from the swagger-ui-dist package so the
 * page works offline (no CDN).
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { Hono } from 'hono'

const assetDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))
const assets: Record<string, { file: string; type: string }> = {
  'swagger-ui.css': { file: 'swagger-ui.css', type: 'text/css; charset=utf-8' },
  'swagger-ui-bundle.js': { file: 'swagger-ui-bundle.js', type: 'text/javascript; charset=utf-8' },
}
const cache = new Map<string, string>()
const read = (file: string) => {
  let text = cache.get(file)
  if (text === undefined) {
    text = readFileSync(join(assetDir, file), 'utf8')
    cache.set(file, text)
  }
  return text
}

const page = (specUrl: string) => `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Orders API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js" data-spec="${specUrl}"></script>
</body>
</html>
`

// Inline scripts would need a CSP exception; a served file does not.
const init = `const spec = document.currentScript.dataset.spec
window.ui = SwaggerUIBundle({ url: spec, dom_id: '#swagger-ui', deepLinking: true })
`

export function docsRoutes(specUrl: string) {
  // One static route per file, no `/:asset` parameter: a parameter beside the static
  // `/init.js` is a shape Hono's RegExpRouter refuses, which would drop the whole app to the
  // slower TrieRouter. test/http/openapi.test.ts checks that every route fits RegExpRouter.
  const app = new Hono()
    .get('/', (c) => c.html(page(specUrl)))
    .get('/init.js', (c) => c.body(init, 200, { 'content-type': 'text/javascript; charset=utf-8' }))
  for (const [name, asset] of Object.entries(assets)) {
    app.get(`/${name}`, (c) =>
      c.body(read(asset.file), 200, {
        'content-type': asset.type,
        'cache-control': 'public, max-age=86400',
      }),
    )
  }
  return app
}
