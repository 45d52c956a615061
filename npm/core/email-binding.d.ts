// `@usebetter-rs/core/email-binding`: the binding the package root gives, for the email package.
// Under the edge conditions it is the email package's own WebAssembly module (email-edge.mjs);
// in Node it is the root's binding itself.
export * from "./index";
export { default } from "./index";
