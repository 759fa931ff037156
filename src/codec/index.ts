export { encode, decode, encodePlain, decodePlain, TAG_HANDLE, TAG_MAP, TAG_ERROR, type Encoded } from './msgpack.js'
export { walk, isHandle, HANDLE, type Branded } from './walk.js'
export { registerErrorClass, type ErrorRecord } from './error-record.js'
