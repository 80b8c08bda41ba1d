// An owned, uninitialised array of trivially copyable values: the output buffers of kernels.
// Unlike std::vector it does not zero its memory first (a full extra pass over a large result),
// and its release() hands the memory to whoever frees it with free_buffer_memory (the numpy
// capsule). Large buffers ask Linux for transparent huge pages, as numpy does for its large
// arrays: the first touch of a fresh 4 KiB page costs a page fault, and on virtual machines
// those faults can cost as much as computing the result; and large buffers come from, and go
// back to, the block cache (block_cache.hpp), whose blocks have their pages already.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <type_traits>

#ifdef __linux__
#include <sys/mman.h>
#endif

#include "pynla/common/block_cache.hpp"

namespace pynla {

template <class T>
class Buffer {
    static_assert(std::is_trivially_copyable_v<T>, "Buffer holds plain values only");

public:
    Buffer() = default;
    explicit Buffer(std::int64_t size) : size_(size) {
        if (size < 0) throw std::bad_alloc();
        // malloc(0) may return nullptr; keep one element so data() is never null.
        const auto bytes = static_cast<std::size_t>(size > 0 ? size : 1) * sizeof(T);
        if (bytes / sizeof(T) != static_cast<std::size_t>(size > 0 ? size : 1)) throw std::bad_alloc();
        data_.reset(static_cast<T*>(allocate(bytes)));
    }

    T* data() noexcept { return data_.get(); }
    const T* data() const noexcept { return data_.get(); }
    std::int64_t size() const noexcept { return size_; }
    T& operator[](std::int64_t k) noexcept { return data_.get()[k]; }
    const T& operator[](std::int64_t k) const noexcept { return data_.get()[k]; }

    // Keep only the first `size` elements (the memory is not returned).
    void shrink_to(std::int64_t size) noexcept {
        if (size < size_) size_ = size;
    }
    // Changes the size to `size` elements, keeping the first min(size, old size); the memory may
    // move (pointers into it are invalidated). Large buffers grow by remapping their pages
    // (realloc's mremap), not by copying them.
    void resize(std::int64_t size) {
        if (size < 0) throw std::bad_alloc();
        const auto count = static_cast<std::size_t>(size > 0 ? size : 1);
        if (count > SIZE_MAX / sizeof(T)) throw std::bad_alloc();
        void* p = std::realloc(data_.get(), count * sizeof(T));
        if (p == nullptr) throw std::bad_alloc();
        data_.release();
        data_.reset(static_cast<T*>(p));
        size_ = size;
    }
    // Faults in every page of a buffer of 64 KiB or more now, in one system call (Linux 5.14+;
    // otherwise nothing happens), for a caller about to write all of it in scattered order: a trap
    // per page, taken in the middle of those writes, costs more (a 4 MB CountSketch result: 1.2 ms).
    void prefault() noexcept {
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
        const auto bytes = static_cast<std::size_t>(size_) * sizeof(T);
        if (bytes >= 16 * kPage) advise_whole_pages(data_.get(), bytes, MADV_POPULATE_WRITE);
#endif
    }
    // Gives up ownership: the caller frees the pointer with free_buffer_memory.
    T* release() noexcept { return data_.release(); }

private:
    static constexpr std::size_t kPage = std::size_t{1} << 12;
    static constexpr std::size_t kHugePage = std::size_t{1} << 21;

#ifdef __linux__
    // madvise(advice) on the whole pages within [p, p + bytes) (malloc's blocks need not start
    // on a page; madvise takes whole pages only).
    static void advise_whole_pages(void* p, std::size_t bytes, int advice) noexcept {
        const auto begin = (reinterpret_cast<std::uintptr_t>(p) + kPage - 1) / kPage * kPage;
        const auto end = (reinterpret_cast<std::uintptr_t>(p) + bytes) / kPage * kPage;
        if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, advice);
    }
#endif

    // Plain malloc, not posix_memalign: glibc's realloc remaps a large malloc block's pages, but
    // copies an aligned one (measured: 2 ms against 830 ms to grow a 700 MB block). The huge page
    // advice covers the block's whole pages; the kernel backs each aligned 2 MiB within them.
    static void* allocate(std::size_t bytes) {
        if (bytes >= BlockCache::kMinBytes) {
            if (void* kept = BlockCache::instance().take(bytes)) return kept;
        }
        void* p = std::malloc(bytes);
        if (p == nullptr) throw std::bad_alloc();
#ifdef __linux__
        if (bytes >= 2 * kHugePage) advise_whole_pages(p, bytes, MADV_HUGEPAGE);  // advice only: may fail
#endif
        return p;
    }

    struct FreeDeleter {
        void operator()(T* p) const noexcept { free_buffer_memory(p); }
    };
    std::unique_ptr<T, FreeDeleter> data_;
    std::int64_t size_ = 0;
};

}  // namespace pynla
