// pynla._core thread controls: the OpenMP thread count the kernels use.
#include "pynla/common/parallel.hpp"

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
}

}  // namespace pynla::bindings
