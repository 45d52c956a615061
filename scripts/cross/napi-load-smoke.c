/* Loads a Node-API addon without Node: a stub library provides the napi_* symbols Node would,
   so dlopen succeeds exactly when the file is a loadable shared object for this architecture
   whose other dependencies (libc, libm, …) resolve. */
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  if (!dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL)) { fprintf(stderr, "stub: %s\n", dlerror()); return 1; }
  void *h = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
  if (!dlsym(h, "napi_register_module_v1")) { fprintf(stderr, "no napi_register_module_v1\n"); return 1; }
  printf("loaded; napi_register_module_v1 present\n");
  return 0;
}
