// Counter-based random numbers: draw c of the stream named by `key` is a pure function of
// (key, c), so any thread can make any part of a sketch and the sketch is the same for every
// thread count. The function is SplitMix64 (Steele, Lea and Flood 2014): its c-th output for
// seed `key`, a generator that passes BigCrush.
#pragma once

#include <cstdint>

namespace pynla::sketch {

inline std::uint64_t random_bits(std::uint64_t key, std::uint64_t counter) {
    std::uint64_t z = key + (counter + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// A value in [0, bound) from 64 random bits by Lemire's multiply-shift; each value's probability
// is within bound / 2^64 of 1 / bound.
inline std::int64_t uniform_below(std::uint64_t bits, std::int64_t bound) {
    return static_cast<std::int64_t>((static_cast<unsigned __int128>(bits) * static_cast<std::uint64_t>(bound)) >> 64);
}

}  // namespace pynla::sketch
