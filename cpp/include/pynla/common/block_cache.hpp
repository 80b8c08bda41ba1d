// Large result buffers, kept for reuse after their owner (a numpy array) frees them.
// Why: the kernel zeroes every fresh page at its first touch. Measured here, that is 10-15% of a
// sparse product with a 40 MB result (poisson 500^2 squared: 4-5 ms of 25-30). glibc maps and
// unmaps large blocks afresh (its threshold adapts, yet blocks of a few MB were still mapped
// afresh on every call from Python), and pynla's outputs are large (SpGEMM reserves its result
// at an upper bound). So pynla keeps a few freed blocks itself, as array libraries' caching
// allocators do.
// Budget: at most kMaxBlocks blocks and kMaxBytes bytes in all; a block is reused only for a
// request of at least a quarter of its size, so a small result never pins a large block.
// release_all() gives them back (pynla.release_cached_memory()).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <mutex>
#include <utility>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace pynla {

class BlockCache {
public:
    // Blocks smaller than this go straight back to malloc, which reuses them well. Above it,
    // glibc maps and unmaps each block afresh, here even at a few MB: a dense CountSketch's two
    // 3.2 MB sums cost 1.5 ms of page faults a call, 12% of it, until they were kept.
    static constexpr std::size_t kMinBytes = std::size_t{1} << 20;
    static constexpr std::size_t kMaxBytes = std::size_t{512} << 20;
    static constexpr std::size_t kMaxBlocks = 8;

    // Never destroyed: numpy may free results after static destructors have run.
    static BlockCache& instance() {
        static BlockCache* const cache = new BlockCache();
        return *cache;
    }

    // A kept block of at least `bytes` bytes (the most recently kept that fits), or nullptr.
    void* take(std::size_t bytes) {
        const std::lock_guard<std::mutex> lock(mutex_);
        for (std::size_t b = blocks_.size(); b-- > 0;) {
            const auto [block, capacity] = blocks_[b];
            if (capacity >= bytes && capacity / 4 <= bytes) {
                blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(b));
                kept_bytes_ -= capacity;
                return block;
            }
        }
        return nullptr;
    }

    // Frees a block from malloc, or keeps it for reuse if it is large and fits the budget (the
    // oldest kept blocks make room).
    void give(void* block) {
        const std::size_t capacity = usable_size(block);
        if (capacity < kMinBytes || capacity > kMaxBytes) {
            std::free(block);
            return;
        }
        std::vector<void*> evicted;
        {
            const std::lock_guard<std::mutex> lock(mutex_);
            while (!blocks_.empty() && (blocks_.size() == kMaxBlocks || kept_bytes_ + capacity > kMaxBytes)) {
                evicted.push_back(blocks_.front().first);
                kept_bytes_ -= blocks_.front().second;
                blocks_.erase(blocks_.begin());
            }
            blocks_.emplace_back(block, capacity);
            kept_bytes_ += capacity;
        }
        for (void* old : evicted) std::free(old);
    }

    // Bytes in the kept blocks.
    std::size_t kept_bytes() {
        const std::lock_guard<std::mutex> lock(mutex_);
        return kept_bytes_;
    }

    // Frees every kept block; returns the bytes freed.
    std::size_t release_all() {
        std::vector<std::pair<void*, std::size_t>> blocks;
        {
            const std::lock_guard<std::mutex> lock(mutex_);
            blocks.swap(blocks_);
            kept_bytes_ = 0;
        }
        std::size_t bytes = 0;
        for (const auto& [block, capacity] : blocks) {
            std::free(block);
            bytes += capacity;
        }
        return bytes;
    }

private:
    BlockCache() = default;

    static std::size_t usable_size(void* block) {
#if defined(__GLIBC__)
        return malloc_usable_size(block);
#else
        (void)block;
        return 0;  // unknown: never kept
#endif
    }

    std::mutex mutex_;
    std::vector<std::pair<void*, std::size_t>> blocks_;  // (block, usable bytes), oldest first
    std::size_t kept_bytes_ = 0;
};

// Frees memory from Buffer::release() (the numpy capsule's deleter): kept for reuse if large.
inline void free_buffer_memory(void* p) { BlockCache::instance().give(p); }

}  // namespace pynla
