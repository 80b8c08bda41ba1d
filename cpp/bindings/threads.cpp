// pynla._core thread and instruction-set controls: the OpenMP thread count the kernels use, the
// rule that takes a kernel's count from its work (and a test hook that lowers the work a thread
// needs), the hold-off while other work holds the cores (and its test hooks), and whether
// kernels with an AVX2 copy may run it (a test hook: both copies must give the same bits).
#include <algorithm>
#include <cstdint>

#include "pynla/common/contention.hpp"
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
    m.def(
        "threads_for", [](std::int64_t bytes) { return threads_for(bytes); }, py::arg("bytes"),
        "Threads a kernel of `bytes` work (bytes read and written) called from this thread would use.");
    m.def(
        "set_bytes_per_thread",
        [](std::int64_t bytes) {
            if (bytes < 1) throw py::value_error("bytes: must be at least 1");
            return bytes_per_thread().exchange(bytes);
        },
        py::arg("bytes"),
        "Test hook: the least work per thread (default kBytesPerThread); returns the previous value.");
    m.attr("default_bytes_per_thread") = kBytesPerThread;
    m.def(
        "contention_hold_off", [] { return std::max<std::int64_t>(Contention::instance().until_ns() - steady_clock_ns(), 0) * 1e-9; },
        "Seconds kernels will still run on one thread because the last parallel loops found the cores taken.");
    m.def(
        "record_parallel_loop",
        [](double cpu_seconds, double wall_seconds, double seconds_from_now) {
            Contention::instance().record(static_cast<std::int64_t>(cpu_seconds * 1e9),
                                          static_cast<std::int64_t>(wall_seconds * 1e9),
                                          steady_clock_ns() + static_cast<std::int64_t>(seconds_from_now * 1e9));
        },
        py::arg("cpu_seconds"), py::arg("wall_seconds"), py::arg("seconds_from_now") = 0.0,
        "Test hook: records a parallel loop, one of whose threads worked wall_seconds and ran cpu_seconds of them, "
        "ending seconds_from_now from now, as the pool does after each loop.");
    m.def(
        "reset_contention", [] { Contention::instance().reset(); },
        "Test hook: forgets what earlier parallel loops found (kernels may take every thread again).");
    m.def("uses_avx2", &use_avx2, "True if kernels with an AVX2 copy run it (the CPU has AVX2 and it is allowed).");
    m.def(
        "allow_avx2", [](bool allowed) { avx2_allowed().store(allowed); }, py::arg("allowed"),
        "Lets kernels with an AVX2 copy run it (True, the default) or keeps them on the plain copy.");
}

}  // namespace pynla::bindings
