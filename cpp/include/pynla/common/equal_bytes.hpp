// Whether two byte ranges are equal, compared in chunks on the threads the length earns: a plan
// checks each call's pattern against the stored one this way (pynla.spgemm_plan), and at memory
// speed one thread leaves a tenth of a sparse product's numeric phase to the check.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "pynla/common/parallel.hpp"

namespace pynla {

inline bool equal_bytes(const void* x, const void* y, std::size_t n_bytes) {
    if (n_bytes == 0) return true;
    const int n_threads = threads_for(static_cast<std::int64_t>(n_bytes));
    const std::int64_t n_chunks = tasks_for(n_threads);
    const std::size_t chunk = (n_bytes + static_cast<std::size_t>(n_chunks) - 1) / static_cast<std::size_t>(n_chunks);
    std::atomic<bool> equal{true};
    parallel_for(n_chunks, n_threads, [&](std::int64_t t, int) {
        const std::size_t begin = std::min(n_bytes, static_cast<std::size_t>(t) * chunk);
        const std::size_t length = std::min(n_bytes - begin, chunk);
        if (length > 0 && equal.load(std::memory_order_relaxed) &&
            std::memcmp(static_cast<const char*>(x) + begin, static_cast<const char*>(y) + begin, length) != 0) {
            equal.store(false, std::memory_order_relaxed);
        }
    });
    return equal.load();
}

}  // namespace pynla
