// `@usebetter-rs/core/webhooks-binding`: the binding the package root gives, for the webhooks
// package. Under the edge conditions it is the webhooks package's own WebAssembly module
// (webhooks-edge.mjs); in Node it is the root's binding itself.
export * from "./index";
export { default } from "./index";
