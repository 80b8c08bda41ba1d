// pynla._core block-sparse (BSR) kernels: products with dense matrices, BSR x BSR, conversion
// from CSR, building from blocks and diagonal-block inversion (pynla/block/).
#include "pynla/block/block_columns.hpp"
#include "pynla/block/diagonal_inverse.hpp"
#include "pynla/block/from_blocks.hpp"
#include "pynla/block/from_csr.hpp"
#include "pynla/block/multiply_block.hpp"
#include "pynla/block/multiply_dense.hpp"
#include "pynla/common/structure_check.hpp"

#include "common.hpp"

namespace pynla::bindings {

namespace {

template <class I, class T>
py::object bsr_to_python(Bsr<I, T>&& m) {
    return py::make_tuple(to_numpy(std::move(m.indptr)), to_numpy(std::move(m.indices)), to_numpy(std::move(m.data)));
}

template <class I>
py::object block_columns_to_python(block::BlockColumns<I>&& columns) {
    return py::make_tuple(to_numpy(std::move(columns.indptr)), to_numpy(std::move(columns.rows)),
                          to_numpy(std::move(columns.positions)));
}

// Throws ValueError unless a's structure is valid (first offset 0, offsets never decreasing,
// block columns in range): for the callers that leave the check to the kernel's call, to save
// small products a call of their own. pynla/_validation.py then names the fault.
template <class I, class T>
void require_valid_structure(const BsrView<I, T>& a) {
    PYNLA_REQUIRE(a.indptr[0] == 0 && check_structure(a.indptr, a.n_block_rows, a.indices, a.n_block_cols, false).valid(),
                  "a: malformed BSR structure");
}

template <class I, class T>
py::object bsr_matmul_typed(const BsrView<I, T>& a, const py::handle& x_in, bool transpose, bool check,
                            const py::object& columns_in) {
    const auto [x, k] = matrix_rows<T>(x_in, "x", transpose ? a.n_rows() : a.n_cols());
    if (!transpose) {
        return to_numpy(without_gil([&, x = x, k = k] {
            if (check) require_valid_structure(a);
            return block::multiply_dense(a, x, k, k);
        }));
    }
    if (columns_in.is_none()) {
        return to_numpy(without_gil([&, x = x, k = k] {
            if (check) require_valid_structure(a);
            if (block::transposed_by_ranges(a, k)) return block::multiply_transpose_dense(a, {}, x, k, k);
            const auto columns = block::block_columns(a);
            return block::multiply_transpose_dense(a, columns.view(), x, k, k);
        }));
    }
    const auto given = columns_in.cast<py::tuple>();
    const block::BlockColumnsView<I> columns{vector_data<I>(given[0], "columns", a.n_block_cols + 1),
                                             vector_data<I>(given[1], "columns", a.n_blocks()),
                                             vector_data<I>(given[2], "columns", a.n_blocks())};
    return to_numpy(without_gil([&, x = x, k = k] {
        if (check) require_valid_structure(a);
        return block::multiply_transpose_dense(a, columns, x, k, k);
    }));
}

}  // namespace

void bind_block(py::module_& m) {
    m.def(
        "bsr_matmul",
        [](const py::tuple& a, const py::handle& x, bool transpose, bool check, const py::object& columns) {
            return with_bsr_view(a, "a", [&](const auto& view) {
                return bsr_matmul_typed(view, x, transpose, check, columns);
            });
        },
        py::arg("a"), py::arg("x"), py::kw_only(), py::arg("transpose"), py::arg("check"),
        py::arg("columns") = py::none(),
        "Y = A X (or A^T X) for a BSR tuple (indptr, indices, data, grid, blocksize) and a C-contiguous\n"
        "X of A's dtype; columns is bsr_block_columns(a), built if None. With check, first raises\n"
        "ValueError if a's structure is malformed. Returns Y flat, row-major.");

    m.def(
        "bsr_block_columns",
        [](const py::tuple& a) {
            return with_bsr_view(a, "a", [](const auto& view) {
                return block_columns_to_python(without_gil([&] { return block::block_columns(view); }));
            });
        },
        py::arg("a"), "A's blocks listed by block column: (indptr, block rows, storage positions).");

    m.def(
        "bsr_transposed_by_ranges",
        [](const py::tuple& a, std::int64_t k) {
            return with_bsr_view(a, "a", [&](const auto& view) { return py::bool_(block::transposed_by_ranges(view, k)); });
        },
        py::arg("a"), py::arg("k"),
        "Whether bsr_matmul's A^T X with X of k columns is summed by ranges of block rows (a tall A),\n"
        "which reads no bsr_block_columns listing.");

    m.def(
        "bsr_spgemm",
        [](const py::tuple& a, const py::tuple& b) {
            return with_bsr_view(a, "a", [&](const auto& a_view) {
                using View = std::decay_t<decltype(a_view)>;
                const auto b_view = bsr_view<typename View::index_type, typename View::value_type>(b, "b");
                return bsr_to_python(without_gil([&] { return block::multiply_block(a_view, b_view); }));
            });
        },
        py::arg("a"), py::arg("b"),
        "C = A B for BSR tuples whose blocks meet. Returns (indptr, indices, data). Raises OverflowError\n"
        "if C's block count does not fit the index dtype.");

    m.def(
        "csr_to_bsr",
        [](const py::tuple& a, std::int64_t block_rows, std::int64_t block_cols) {
            return with_csr_view(a, "a", [&](const auto& view) {
                return bsr_to_python(without_gil([&] { return block::from_csr(view, block_rows, block_cols); }));
            });
        },
        py::arg("a"), py::arg("block_rows"), py::arg("block_cols"),
        "BSR (indptr, indices, data) of a CSR tuple in block_rows x block_cols blocks.");

    m.def(
        "csr_count_blocks",
        [](const py::tuple& a, std::int64_t block_rows, std::int64_t block_cols) {
            return with_csr_view(a, "a", [&](const auto& view) -> py::object {
                return py::int_(without_gil([&] { return block::count_blocks(view, block_rows, block_cols); }));
            });
        },
        py::arg("a"), py::arg("block_rows"), py::arg("block_cols"),
        "The number of blocks a CSR tuple stores in block_rows x block_cols blocks.");

    m.def(
        "bsr_from_blocks",
        [](const py::handle& rows, const py::handle& cols, const py::handle& blocks,
           std::pair<std::int64_t, std::int64_t> grid, std::pair<std::int64_t, std::int64_t> blocksize) {
            const auto [r, c] = blocksize;
            if (r < 1 || c < 1 || grid.first < 0 || grid.second < 0) throw py::value_error("negative shape or empty blocks");
            const std::int64_t n_listed = py::len(rows);
            return dispatch_index_value(rows, blocks, [&](auto index, auto value) -> py::object {
                using I = typename decltype(index)::type;
                using T = typename decltype(value)::type;
                const I* row_data = vector_data<I>(rows, "block_rows", n_listed);
                const I* col_data = vector_data<I>(cols, "block_cols", n_listed);
                const T* block_data = vector_data<T>(blocks, "blocks", n_listed * r * c);
                return bsr_to_python(without_gil([&] {
                    return block::from_blocks(grid.first, grid.second, r, c, n_listed, row_data, col_data, block_data);
                }));
            });
        },
        py::arg("block_rows"), py::arg("block_cols"), py::arg("blocks"), py::arg("grid"), py::arg("blocksize"),
        "BSR (indptr, indices, data) from listed blocks, flat (coordinates in range; repeats add up).");

    m.def(
        "bsr_diagonal_inverses",
        [](const py::tuple& a) {
            return with_bsr_view(a, "a", [](const auto& view) {
                return bsr_to_python(without_gil([&] { return block::diagonal_block_inverses(view); }));
            });
        },
        py::arg("a"), "The inverses of the diagonal blocks of a BSR tuple, as BSR (indptr, indices, data).");
}

}  // namespace pynla::bindings
