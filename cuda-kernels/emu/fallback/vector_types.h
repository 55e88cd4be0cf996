// Fallback for machines without the CUDA toolkit: the vector types of the toolkit's vector_types.h that kernels
// use, with the same layout and alignment. Used by the emulation (g++) only when the toolkit's headers are absent.
#pragma once
#ifndef __VECTOR_TYPES_H__
#define __VECTOR_TYPES_H__

#define CUEMU_VEC2(T, N, A) struct __attribute__((aligned(A))) N##2 { T x, y; };
#define CUEMU_VEC3(T, N) struct N##3 { T x, y, z; };
#define CUEMU_VEC4(T, N, A) struct __attribute__((aligned(A))) N##4 { T x, y, z, w; };
CUEMU_VEC2(char, char, 2) CUEMU_VEC3(char, char) CUEMU_VEC4(char, char, 4)
CUEMU_VEC2(unsigned char, uchar, 2) CUEMU_VEC3(unsigned char, uchar) CUEMU_VEC4(unsigned char, uchar, 4)
CUEMU_VEC2(short, short, 4) CUEMU_VEC3(short, short) CUEMU_VEC4(short, short, 8)
CUEMU_VEC2(unsigned short, ushort, 4) CUEMU_VEC3(unsigned short, ushort) CUEMU_VEC4(unsigned short, ushort, 8)
CUEMU_VEC2(int, int, 8) CUEMU_VEC3(int, int) CUEMU_VEC4(int, int, 16)
CUEMU_VEC2(unsigned int, uint, 8) CUEMU_VEC3(unsigned int, uint) CUEMU_VEC4(unsigned int, uint, 16)
CUEMU_VEC2(long long, longlong, 16) CUEMU_VEC3(long long, longlong) CUEMU_VEC4(long long, longlong, 16)
CUEMU_VEC2(unsigned long long, ulonglong, 16) CUEMU_VEC3(unsigned long long, ulonglong) CUEMU_VEC4(unsigned long long, ulonglong, 16)
CUEMU_VEC2(float, float, 8) CUEMU_VEC3(float, float) CUEMU_VEC4(float, float, 16)
CUEMU_VEC2(double, double, 16) CUEMU_VEC3(double, double) CUEMU_VEC4(double, double, 16)
#undef CUEMU_VEC2
#undef CUEMU_VEC3
#undef CUEMU_VEC4

struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return uint3{x, y, z}; }
};
#endif
