// pynla._core kernels of truncated-SVD updating (pynla/svd_update/): the rows a sparse block
// touches, and the Golub-Kahan-Lanczos bidiagonalization of its residual.
#include "pynla/svd_update/bidiagonalization.hpp"
#include "pynla/svd_update/touched_rows.hpp"

#include "common.hpp"

namespace pynla::bindings {

namespace {

template <class I>
py::object touched_rows_typed(const py::handle& indices, const py::handle& marks_in) {
    const auto index_array = py::reinterpret_borrow<py::array>(indices);
    if (index_array.ndim() != 1) throw py::value_error("indices: expected a 1-D array");
    const std::int64_t nnz = index_array.shape(0);
    const I* index_data = vector_data<I>(indices, "indices", nnz);
    if (!py::isinstance<py::array_t<std::int64_t>>(marks_in)) throw py::type_error("marks: expected an int64 array");
    auto marks = py::reinterpret_borrow<py::array_t<std::int64_t>>(marks_in);
    if (marks.ndim() != 1 || !(marks.flags() & py::array::c_style) || !marks.writeable()) {
        throw py::value_error("marks: expected a writeable contiguous 1-D array");
    }
    std::int64_t* mark_data = marks.mutable_data();
    auto rows = without_gil([&] { return svd_update::touched_rows(index_data, nnz, marks.shape(0), mark_data); });
    return py::make_tuple(to_numpy(std::move(rows.touched)), to_numpy(std::move(rows.local)));
}

template <class I>
py::object bidiagonalize_typed(const py::tuple& z_in, const py::handle& c_in, const py::handle& p0_in, std::int64_t l,
                               double tiny) {
    const auto z = csr_view<I, double>(z_in, "z");
    const auto [c, s] = matrix_rows<double>(c_in, "c", py::reinterpret_borrow<py::array>(c_in).shape(0));
    if (s != z.n_rows) throw py::value_error("c: expected one column per row of z");
    const std::int64_t k = py::reinterpret_borrow<py::array>(c_in).shape(0);
    const double* p0 = vector_data<double>(p0_in, "p0", z.n_rows);
    auto out = without_gil([&, c = c] { return svd_update::bidiagonalize(z, c, k, p0, l, tiny); });
    return py::make_tuple(out.steps, to_numpy(std::move(out.b)), to_numpy(std::move(out.c)));
}

}  // namespace

void bind_svd_update(py::module_& m) {
    m.def(
        "touched_rows",
        [](const py::handle& indices, const py::handle& marks) -> py::object {
            if (py::isinstance<py::array_t<std::int32_t>>(indices)) {
                return touched_rows_typed<std::int32_t>(indices, marks);
            }
            if (py::isinstance<py::array_t<std::int64_t>>(indices)) {
                return touched_rows_typed<std::int64_t>(indices, marks);
            }
            throw py::type_error("indices: expected int32 or int64 indices");
        },
        py::arg("indices"), py::arg("marks"),
        "(touched, local): the distinct values of indices in the order first met, and each index's\n"
        "position among them. marks: an int64 workspace of n entries, all -1 (and -1 again on return);\n"
        "every index must lie in [0, n).");

    m.def(
        "gkl_bidiagonalize",
        [](const py::tuple& z, const py::handle& c, const py::handle& p0, std::int64_t l, double tiny) -> py::object {
            if (py::isinstance<py::array_t<std::int32_t>>(z[1])) return bidiagonalize_typed<std::int32_t>(z, c, p0, l, tiny);
            if (py::isinstance<py::array_t<std::int64_t>>(z[1])) return bidiagonalize_typed<std::int64_t>(z, c, p0, l, tiny);
            throw py::type_error("z: expected int32 or int64 indices");
        },
        py::arg("z"), py::arg("c"), py::arg("p0"), py::arg("l"), py::arg("tiny"),
        "(steps, b, c): l steps of Golub-Kahan-Lanczos on the residual (I - V V^T) Y, for z = Y^T as a\n"
        "CSR tuple (indptr, indices, data float64, (s, n_rows)) over the touched rows, c = V^T Y (k x s,\n"
        "C order) and a unit start p0 (s). b: steps x n_rows, c: steps x k (row i: left vector i).");
}

}  // namespace pynla::bindings
