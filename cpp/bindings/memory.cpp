// pynla._core memory controls: the block cache that keeps large freed results for reuse.
#include "pynla/common/block_cache.hpp"

#include "common.hpp"

namespace pynla::bindings {

void bind_memory(py::module_& m) {
    m.def("cached_memory", [] { return BlockCache::instance().kept_bytes(); },
          "Bytes of freed result buffers kept for reuse.");
    m.def("release_cached_memory", [] { return BlockCache::instance().release_all(); },
          "Frees the result buffers kept for reuse; returns their bytes.");
}

}  // namespace pynla::bindings
