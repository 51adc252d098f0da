/**
 * The child side of the bench's process protocol (see child-protocol.mjs, shared with the
 * servers that run as plain JavaScript).
 */
export {
  announceReady,
  type ChildMessage,
  type ParentMessage,
  readConfig,
  serveParent,
} from './child-protocol.mjs';
