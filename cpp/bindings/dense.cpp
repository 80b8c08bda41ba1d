// pynla._core dense routines: fills the core's BLAS/LAPACK table from SciPy's cython_blas and
// cython_lapack capsules, and exposes two calls through it (gemm, gesv) so tests can check the
// table against numpy.
#include "pynla/common/dense.hpp"

#include <algorithm>
#include <vector>

#include "common.hpp"

namespace pynla::bindings {

namespace {

void* capsule_pointer(const py::dict& capi, const char* name) {
    if (!capi.contains(name)) throw py::value_error(std::string("SciPy does not export ") + name);
    const py::object capsule = capi[name];
    void* pointer = PyCapsule_GetPointer(capsule.ptr(), PyCapsule_GetName(capsule.ptr()));
    if (pointer == nullptr) throw py::error_already_set();
    return pointer;
}

// Fills every table slot from whichever of the two dicts exports it.
void load_dense_routines(const py::dict& blas_capi, const py::dict& lapack_capi) {
    auto& table = dense::table();
#define PYNLA_DENSE_LOAD(name) \
    table.name = capsule_pointer(blas_capi.contains(#name) ? blas_capi : lapack_capi, #name);
    PYNLA_DENSE_ROUTINES(PYNLA_DENSE_LOAD)
#undef PYNLA_DENSE_LOAD
}

template <class T>
using FortranArray = py::array_t<T, py::array::f_style>;

template <class T>
FortranArray<T> gemm_typed(const py::handle& a_in, const py::handle& b_in) {
    const auto a = fortran_matrix<T>(a_in, "a"), b = fortran_matrix<T>(b_in, "b");
    if (a.shape(1) != b.shape(0)) throw py::value_error("gemm: inner dimensions differ");
    const auto m = static_cast<dense::fint>(a.shape(0)), k = static_cast<dense::fint>(a.shape(1));
    const auto n = static_cast<dense::fint>(b.shape(1));
    FortranArray<T> c({a.shape(0), b.shape(1)});
    {
        py::gil_scoped_release no_gil;
        dense::gemm<T>('N', 'N', m, n, k, T(1), a.data(), std::max(m, 1), b.data(), std::max(k, 1), T(0),
                       c.mutable_data(), std::max(m, 1));
    }
    return c;
}

template <class T>
FortranArray<T> solve_typed(const py::handle& a_in, const py::handle& b_in) {
    const auto a = fortran_matrix<T>(a_in, "a"), b = fortran_matrix<T>(b_in, "b");
    if (a.shape(0) != a.shape(1) || b.shape(0) != a.shape(0)) throw py::value_error("solve: shapes do not match");
    const auto n = static_cast<dense::fint>(a.shape(0)), n_rhs = static_cast<dense::fint>(b.shape(1));
    FortranArray<T> lu({a.shape(0), a.shape(1)}), x({b.shape(0), b.shape(1)});
    std::copy(a.data(), a.data() + a.size(), lu.mutable_data());
    std::copy(b.data(), b.data() + b.size(), x.mutable_data());
    std::vector<dense::fint> pivots(static_cast<std::size_t>(n));
    {
        py::gil_scoped_release no_gil;
        dense::gesv<T>(n, n_rhs, lu.mutable_data(), std::max(n, 1), pivots.data(), x.mutable_data(), std::max(n, 1));
    }
    return x;
}

}  // namespace

void bind_dense(py::module_& m) {
    auto dense_module = m.def_submodule("dense", "BLAS/LAPACK through the core's table (for tests)");
    dense_module.def("load_routines", &load_dense_routines, py::arg("blas_capi"), py::arg("lapack_capi"));
    dense_module.def(
        "gemm",
        [](const py::array& a, const py::array& b) -> py::array {
            return dispatch_value(a, "a", [&](auto value) { return gemm_typed<typename decltype(value)::type>(a, b); });
        },
        py::arg("a"), py::arg("b"), "a @ b through the table's ?gemm (Fortran-ordered inputs of one dtype).");
    dense_module.def(
        "solve",
        [](const py::array& a, const py::array& b) -> py::array {
            return dispatch_value(a, "a", [&](auto value) { return solve_typed<typename decltype(value)::type>(a, b); });
        },
        py::arg("a"), py::arg("b"), "Solves a x = b through the table's ?gesv (Fortran-ordered inputs of one dtype).");
}

}  // namespace pynla::bindings
