// pynla._core kernels of truncated-SVD updating (pynla/svd_update/): the rows a sparse block
// touches.
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
}

}  // namespace pynla::bindings
