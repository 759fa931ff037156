export {
  encode,
  decode,
  encodePlain,
  decodePlain,
  tagOf,
  TAG_HANDLE,
  TAG_MAP,
  TAG_ERROR,
  TAG_ENDPOINT,
  TAG_FUNCTION,
  type Encoded,
  type HandleTagNumber,
} from './msgpack.js'
export { walk, isHandle, HANDLE, type Branded } from './walk.js'
export { registerErrorClass, type ErrorRecord } from './error-record.js'
export { MAX_NESTING_DEPTH } from './depth.js'
export { transfer, type Transferable } from './transfer-list.js'
