// The one extension module, pynla._core: each capability's binding file adds its functions.
#include "pynla/common/error.hpp"

#include "common.hpp"

namespace pynla::bindings {
void bind_threads(py::module_& m);
void bind_memory(py::module_& m);
void bind_dense(py::module_& m);
void bind_spgemm(py::module_& m);
void bind_block(py::module_& m);
void bind_sketch(py::module_& m);
void bind_validation(py::module_& m);
void bind_fisher(py::module_& m);
void bind_svd_update(py::module_& m);
void bind_krylov(py::module_& m);
void bind_tall(py::module_& m);
}  // namespace pynla::bindings

PYBIND11_MODULE(_core, m) {
    namespace py = pybind11;
    m.doc() = "pynla's compiled kernels. Use the pynla package, not this module.";
    pynla::bindings::bind_threads(m);
    pynla::bindings::bind_memory(m);
    pynla::bindings::bind_dense(m);
    pynla::bindings::bind_spgemm(m);
    pynla::bindings::bind_block(m);
    pynla::bindings::bind_sketch(m);
    pynla::bindings::bind_validation(m);
    pynla::bindings::bind_fisher(m);
    pynla::bindings::bind_svd_update(m);
    pynla::bindings::bind_krylov(m);
    pynla::bindings::bind_tall(m);

    // Kept for the life of the process: the translator may run after module teardown starts.
    static py::handle linalg_error = py::object(py::module_::import("numpy.linalg").attr("LinAlgError")).release();
    py::register_local_exception_translator([](std::exception_ptr error) {
        try {
            if (error) std::rethrow_exception(error);
        } catch (const pynla::linalg_error& e) {
            PyErr_SetString(linalg_error.ptr(), e.what());
        }
    });
}
