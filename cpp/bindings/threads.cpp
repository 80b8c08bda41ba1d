// pynla._core thread and instruction-set controls: the OpenMP thread count the kernels use, and
// whether kernels with an AVX2 copy may run it (a test hook: both copies must give the same bits).
#include "pynla/common/parallel.hpp"
#include "pynla/common/simd.hpp"

#include "common.hpp"

namespace pynla::bindings {

void bind_threads(py::module_& m) {
#ifdef PYNLA_HAS_OPENMP
    m.attr("has_openmp") = true;
#else
    m.attr("has_openmp") = false;
#endif
    m.def("get_num_threads", &max_threads, "Threads the next kernel called from this thread will use.");
    m.def("set_num_threads", &set_max_threads, py::arg("n"),
          "Caps the threads of every kernel at n and sets this thread's OpenMP limit to n.");
    m.def("uses_avx2", &use_avx2, "True if kernels with an AVX2 copy run it (the CPU has AVX2 and it is allowed).");
    m.def(
        "allow_avx2", [](bool allowed) { avx2_allowed().store(allowed); }, py::arg("allowed"),
        "Lets kernels with an AVX2 copy run it (True, the default) or keeps them on the plain copy.");
}

}  // namespace pynla::bindings
