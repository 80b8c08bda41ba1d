// pynla._core.spgemm: the sparse x sparse product of pynla/spgemm/multiply.hpp.
#include "pynla/spgemm/multiply.hpp"

#include <pybind11/stl.h>

#include <optional>

#include "common.hpp"

namespace pynla::bindings {

namespace {

template <class I, class T>
py::tuple spgemm_typed(const py::tuple& a_in, const py::tuple& b_in, bool sort_indices,
                       std::optional<bool> b_rows_sorted) {
    const auto a = csr_view<I, T>(a_in, "a");  // borrowed: the tuples keep the arrays alive
    const auto b = csr_view<I, T>(b_in, "b");
    Csr<I, T> c;
    {
        py::gil_scoped_release no_gil;  // no Python object is touched in here
        c = spgemm::multiply(a, b, spgemm::Options{sort_indices, b_rows_sorted});
    }
    return csr_to_python(std::move(c));
}

}  // namespace

void bind_spgemm(py::module_& m) {
    m.def(
        "spgemm",
        [](const py::tuple& a, const py::tuple& b, bool sort_indices, std::optional<bool> b_rows_sorted) {
            return dispatch_index_value(a[1], a[2], [&](auto index, auto value) {
                using I = typename decltype(index)::type;
                using T = typename decltype(value)::type;
                return spgemm_typed<I, T>(a, b, sort_indices, b_rows_sorted);
            });
        },
        py::arg("a"), py::arg("b"), py::kw_only(), py::arg("sort_indices"), py::arg("b_rows_sorted") = py::none(),
        "C = A B for CSR tuples (indptr, indices, data, shape) of one index and one value dtype.\n"
        "b_rows_sorted: whether every row of B lists its columns in non-decreasing order (None: the kernel checks).\n"
        "Returns (indptr, indices, data). Raises OverflowError, before any work, if nnz(C) may not fit the\n"
        "index dtype (the product count, which bounds it, does not).");
}

}  // namespace pynla::bindings
