// The mirror layer: every domain's configuration kept current by watches, and the stream of its changes.
export { ConfigMirror, type MirrorEvent, type MirrorEventsOptions, type MirrorOptions, type MirrorState } from './mirror.js';
export { applyChanges, diffEntries, type Diffable, type PathChange } from './changes.js';
