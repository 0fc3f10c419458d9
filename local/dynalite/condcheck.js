// Runs dynalite's CLI (process.argv[1]) with one DynamoDB feature dynalite
// 4.0.0 lacks (architect/dynalite#182): ReturnValuesOnConditionCheckFailure
// on PutItem, UpdateItem and DeleteItem. With ALL_OLD, a refused condition
// carries the item as it was in the ConditionalCheckFailedException's Item,
// as DynamoDB documents ("ReturnValuesOnConditionCheckFailure", in the
// PutItem, UpdateItem and DeleteItem API references). Without it, dynalite
// drops the parameter, and a store that relies on it needs a second request
// to read the item, which makes request counts against dynalite differ from
// DynamoDB's.
'use strict'
const path = require('path')
const cli = process.argv[1]
const dir = path.dirname(cli)
const db = require(path.join(dir, 'db'))
if (typeof db.checkConditional !== 'function') {
  throw new Error('mullet: this dynalite (' + dir + ') has no db.checkConditional; mullet is tested with dynalite 4.0.0')
}
for (const action of ['putItem', 'updateItem', 'deleteItem']) {
  const v = require(path.join(dir, 'validations', action))
  v.types.ReturnValuesOnConditionCheckFailure = { type: 'String', enum: ['ALL_OLD', 'NONE'] }
}
const checkConditional = db.checkConditional
db.checkConditional = function (data, existingItem) {
  const err = checkConditional(data, existingItem)
  if (err && existingItem && data.ReturnValuesOnConditionCheckFailure === 'ALL_OLD') {
    err.body.Item = existingItem
  }
  return err
}
require(cli)
