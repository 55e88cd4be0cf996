// Fallback for machines without the CUDA toolkit: make_int2 ... make_double4 (see vector_types.h here).
#pragma once
#include "vector_types.h"
#define CUEMU_MAKE2(T, N) static inline N##2 make_##N##2(T x, T y) { return N##2{x, y}; }
#define CUEMU_MAKE3(T, N) static inline N##3 make_##N##3(T x, T y, T z) { return N##3{x, y, z}; }
#define CUEMU_MAKE4(T, N) static inline N##4 make_##N##4(T x, T y, T z, T w) { return N##4{x, y, z, w}; }
#define CUEMU_MAKE(T, N) CUEMU_MAKE2(T, N) CUEMU_MAKE3(T, N) CUEMU_MAKE4(T, N)
CUEMU_MAKE(char, char) CUEMU_MAKE(unsigned char, uchar) CUEMU_MAKE(short, short) CUEMU_MAKE(unsigned short, ushort)
CUEMU_MAKE(int, int) CUEMU_MAKE(unsigned int, uint) CUEMU_MAKE(long long, longlong)
CUEMU_MAKE(unsigned long long, ulonglong) CUEMU_MAKE(float, float) CUEMU_MAKE(double, double)
#undef CUEMU_MAKE
#undef CUEMU_MAKE2
#undef CUEMU_MAKE3
#undef CUEMU_MAKE4
