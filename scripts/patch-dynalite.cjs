// dynalite 4.0.0 keys each global-secondary-index entry by the index key plus only the first
// six hex digits of an md5 of the item's table key. Items sharing an index key (e.g. the
// 10,000 files of one run under runId-index) then collide about 3 times per 10,000 and
// silently overwrite each other in the index. This patch makes the suffix the full digest.
// Runs on `npm ci`/`npm install` (postinstall); idempotent; fails loudly if the code moved.
const fs = require('fs')
const path = require('path')

const file = path.join(__dirname, '..', 'node_modules', 'dynalite', 'db', 'index.js')
const before = 'return createKey(item, table, keySchema) + hashPrefix.apply(this, tableKeyPieces)'
const after = 'return createKey(item, table, keySchema) + fullKeyDigest.apply(this, tableKeyPieces) // run-monitor patch'
const helper = `
// run-monitor patch: the whole md5 digest of the table key, so index entries never collide.
function fullKeyDigest (hashKey, hashType, rangeKey, rangeType) {
  var toBuf = function (v, t) { return t == 'N' ? numToBuffer(v) : Buffer.from(v, t == 'B' ? 'base64' : 'utf8') }
  return crypto.createHash('md5').update('Outliers').update(toBuf(hashKey, hashType))
    .update(rangeKey ? toBuf(rangeKey, rangeType) : Buffer.from([])).digest('hex')
}
`
let source = fs.readFileSync(file, 'utf8')
if (source.includes('run-monitor patch')) {
  console.log('dynalite index-key patch: already applied')
  process.exit(0)
}
if (!source.includes(before)) {
  console.error('dynalite index-key patch: expected code not found in ' + file + '; was dynalite upgraded?')
  process.exit(1)
}
source = source.replace(before, after) + helper
fs.writeFileSync(file, source)
console.log('dynalite index-key patch: applied')
