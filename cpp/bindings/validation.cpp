// pynla._core.check_compressed, equal_arrays, symmetry, mirror_upper and transpose: the structure
// checks of pynla/common/structure_check.hpp, the comparison of a pattern with a stored one, the
// symmetry test and mirroring of pynla/common/symmetry.hpp (for pynla/galerkin.py), and the
// transpose of checked CSR parts (pynla/common/transpose.hpp).
#include "pynla/common/equal_bytes.hpp"
#include "pynla/common/structure_check.hpp"
#include "pynla/common/symmetry.hpp"
#include "pynla/common/transpose.hpp"

#include <pybind11/stl.h>

#include <optional>

#include "common.hpp"

namespace pynla::bindings {

namespace {

template <class I>
py::tuple check_compressed_typed(const py::array& offsets, const py::array& indices, std::int64_t n_minor,
                                 bool find_rows_sorted) {
    const std::int64_t n_major = offsets.ndim() == 1 ? offsets.shape(0) - 1 : -1;
    if (n_major < 0) throw py::value_error("offsets: expected a 1-D array of length at least 1");
    const I* offset_data = vector_data<I>(offsets, "offsets", n_major + 1);
    const std::int64_t nnz = indices.ndim() == 1 ? indices.shape(0) : -1;
    if (offset_data[0] != 0 || offset_data[n_major] != nnz) {
        throw py::value_error("offsets: must start at 0 and end at the number of indices");
    }
    const I* index_data = vector_data<I>(indices, "indices", nnz);
    const StructureCheck check =
        without_gil([&] { return check_structure(offset_data, n_major, index_data, n_minor, find_rows_sorted); });
    return py::make_tuple(check.first_decrease, check.indices.first_out_of_range, check.indices.rows_sorted);
}

}  // namespace

void bind_validation(py::module_& m) {
    m.def(
        "check_compressed",
        [](const py::array& offsets, const py::array& indices, std::int64_t n_minor, bool find_rows_sorted) -> py::tuple {
            if (py::isinstance<py::array_t<std::int32_t>>(indices)) {
                return check_compressed_typed<std::int32_t>(offsets, indices, n_minor, find_rows_sorted);
            }
            if (py::isinstance<py::array_t<std::int64_t>>(indices)) {
                return check_compressed_typed<std::int64_t>(offsets, indices, n_minor, find_rows_sorted);
            }
            throw py::type_error("indices: expected int32 or int64 indices");
        },
        py::arg("offsets"), py::arg("indices"), py::arg("n_minor"), py::kw_only(), py::arg("find_rows_sorted"),
        "Checks compressed (CSR, CSC, BSR) structure: offsets and indices are contiguous 1-D arrays of\n"
        "one dtype, int32 or int64, offsets[0] == 0 and offsets[-1] == len(indices). Returns\n"
        "(first p with offsets[p + 1] < offsets[p], first position of an index outside [0, n_minor),\n"
        "whether every row's indices are non-decreasing, or None unless find_rows_sorted), positions -1\n"
        "if there is none; the indices are only checked if the offsets never decrease.");

    m.def(
        "equal_arrays",
        [](const py::array& x, const py::array& y) {
            const bool comparable = x.ndim() == 1 && y.ndim() == 1 && (x.flags() & py::array::c_style) &&
                                    (y.flags() & py::array::c_style) && x.dtype().equal(y.dtype());
            if (!comparable) throw py::value_error("equal_arrays: expected contiguous 1-D arrays of one dtype");
            if (x.shape(0) != y.shape(0)) return false;
            const auto bytes = static_cast<std::size_t>(x.nbytes());
            const void *x_data = x.data(), *y_data = y.data();
            return without_gil([&] { return equal_bytes(x_data, y_data, bytes); });
        },
        py::arg("x"), py::arg("y"),
        "Whether two contiguous 1-D arrays of one dtype hold the same bytes (compared on the threads\n"
        "their length earns, without the GIL).");

    m.def(
        "symmetry",
        [](const py::tuple& bsr) {
            return with_bsr_view(bsr, "A", [](const auto& a) -> py::object {
                switch (without_gil([&] { return symmetry(a); })) {
                    case Symmetry::symmetric: return py::str("symmetric");
                    case Symmetry::not_symmetric: return py::str("not symmetric");
                    default: return py::str("not canonical");
                }
            });
        },
        py::arg("bsr"),
        "Whether checked BSR parts (indptr, indices, flat data, block grid, blocksize) equal their\n"
        "transpose, value for value: 'symmetric', 'not symmetric', or 'not canonical' when a block\n"
        "row is unsorted or repeats a column and that alone does not prove it unsymmetric (the\n"
        "answer then needs a canonical copy). CSR is the case of 1 x 1 blocks. Without the GIL.");

    m.def(
        "mirror_upper",
        [](const py::tuple& bsr) {
            return with_bsr_view(bsr, "C", [&](const auto& c) -> py::object {
                using T = std::remove_const_t<std::remove_pointer_t<decltype(c.data)>>;
                T* data = mutable_vector_data<T>(bsr[2], "C data", c.n_blocks() * c.block_size());
                return py::bool_(without_gil([&] { return mirror_upper(c, data); }));
            });
        },
        py::arg("bsr"),
        "Writes each value below the diagonal of checked canonical BSR parts (as for symmetry; the\n"
        "flat data writeable) as a copy of its mirror above, in place. False where the pattern is not\n"
        "symmetric, with some values below the diagonal written and none above.");

    m.def(
        "transpose",
        [](const py::tuple& csr) {
            return with_csr_view(csr, "A", [&](const auto& a) -> py::object {
                return csr_to_python(without_gil([&] { return transpose(a); }));
            });
        },
        py::arg("csr"),
        "(indptr, indices, data) of the transpose of checked CSR parts (indptr, indices, data,\n"
        "shape): contiguous arrays, indptr and indices of one dtype (int32 or int64), float32,\n"
        "float64, complex64 or complex128 values. Rows sorted, entries in SciPy's csr_tocsc order\n"
        "(repeated entries kept); the same for any number of threads. Without the GIL.");
}

}  // namespace pynla::bindings
