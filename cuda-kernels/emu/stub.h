// Included by the generated stubs.gen.cpp: one weak definition per driver function JCuda imports
// (jcuda-driver-symbols.txt). The functions driver.cpp implements replace these at link time; the rest report
// CUDA_ERROR_NOT_SUPPORTED and record their name (cuemu_last_unsupported, cuGetErrorString).
#pragma once
extern "C" int cuemu_unsupported(const char* name);
#define CUEMU_STUB(name) \
    extern "C" __attribute__((visibility("default"), weak)) int name() { return cuemu_unsupported(#name); }
