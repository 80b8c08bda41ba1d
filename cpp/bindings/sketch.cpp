// pynla._core sketching kernels (pynla/sketch/): drawing sparse sketches, applying them to dense
// and sparse matrices, the SRHT, and the one-pass least-squares gradient (dense and CSR).
#include <cstdint>

#include "pynla/sketch/apply_dense.hpp"
#include "pynla/sketch/apply_sparse.hpp"
#include "pynla/sketch/hadamard.hpp"
#include "pynla/sketch/residual_gradient.hpp"
#include "pynla/sketch/residual_gradient_csr.hpp"
#include "pynla/sketch/sparse_sketch.hpp"

#include "common.hpp"

namespace pynla::bindings {

namespace {

// The sketch tuple (rows, signs, n_rows, per_column, scale): rows int32 and signs int8, n k each.
sketch::SparseSketchView sketch_view(const py::tuple& s) {
    if (s.size() != 5) throw py::value_error("sketch: expected (rows, signs, n_rows, per_column, scale)");
    sketch::SparseSketchView view;
    view.n_rows = s[2].cast<std::int64_t>();
    view.per_column = s[3].cast<std::int64_t>();
    view.scale = s[4].cast<double>();
    const std::int64_t size = py::len(s[0]);
    if (view.n_rows < 1 || view.per_column < 1 || size % view.per_column != 0) {
        throw py::value_error("sketch: inconsistent sizes");
    }
    view.n_cols = size / view.per_column;
    view.rows = vector_data<std::int32_t>(s[0], "sketch rows", size);
    view.signs = vector_data<std::int8_t>(s[1], "sketch signs", size);
    return view;
}

template <class T>
const T* matrix_data(const py::handle& object, const char* what, std::int64_t n_rows, std::int64_t n_cols) {
    const auto [data, columns] = matrix_rows<T>(object, what, n_rows);
    if (columns != n_cols) throw py::value_error(std::string(what) + ": expected " + std::to_string(n_cols) + " columns");
    return data;
}

}  // namespace

void bind_sketch(py::module_& m) {
    m.def(
        "draw_sparse_sketch",
        [](std::int64_t n_rows, std::int64_t n_cols, std::int64_t per_column, std::uint64_t key, std::int64_t first) {
            if (n_rows < 1 || n_rows > INT32_MAX || n_cols < 0 || per_column < 1 || per_column > n_rows || first < 0) {
                throw py::value_error("need 1 <= per_column <= n_rows <= 2^31 - 1, n_cols >= 0 and first >= 0");
            }
            auto s = without_gil([&] { return sketch::draw_sparse_sketch(n_rows, n_cols, per_column, key, first); });
            return py::make_tuple(to_numpy(std::move(s.rows)), to_numpy(std::move(s.signs)));
        },
        py::arg("n_rows"), py::arg("n_cols"), py::arg("per_column"), py::arg("key"), py::arg("first") = 0,
        "(rows int32, signs int8) of columns [first, first + n_cols) of a sparse sketch with per_column nonzeros "
        "per column, drawn from key.");

    m.def(
        "sketch_dense",
        [](const py::tuple& s, const py::handle& a) {
            const auto view = sketch_view(s);
            return dispatch_value(a, "a", [&](auto value) -> py::object {
                using T = typename decltype(value)::type;
                const auto a_view = matrix_view<T>(a, "a");
                if (a_view.n_rows != view.n_cols) throw py::value_error("a: rows do not match the sketch");
                return to_numpy(without_gil([&] { return sketch::sketch_dense(view, a_view); }));
            });
        },
        py::arg("sketch"), py::arg("a"), "S A (flat, C order) for a 2-D A of any strides.");

    m.def(
        "sketch_csr",
        [](const py::tuple& s, const py::tuple& a) {
            const auto view = sketch_view(s);
            return with_csr_view(a, "a", [&](const auto& a_view) {
                if (a_view.n_rows != view.n_cols) throw py::value_error("a: rows do not match the sketch");
                return csr_to_python(without_gil([&] { return sketch::sketch_csr(view, a_view); }));
            });
        },
        py::arg("sketch"), py::arg("a"), "S A as CSR (indptr, indices, data) for a CSR tuple A.");

    m.def(
        "sketch_csc",
        [](const py::tuple& s, const py::tuple& a_transpose) {
            const auto view = sketch_view(s);
            return with_csr_view(a_transpose, "a", [&](const auto& a_view) {
                if (a_view.n_cols != view.n_cols) throw py::value_error("a: rows do not match the sketch");
                return csr_to_python(without_gil([&] { return sketch::sketch_csc(view, a_view); }));
            });
        },
        py::arg("sketch"), py::arg("a_transpose"),
        "S A as CSC (indptr, indices, data) for A given as the CSR tuple of its transpose (A's CSC arrays).");

    m.def(
        "srht",
        [](const py::handle& a, const py::handle& signs, const py::handle& samples, std::int64_t n_padded, double scale) {
            return dispatch_value(a, "a", [&](auto value) -> py::object {
                using T = typename decltype(value)::type;
                const auto a_view = matrix_view<T>(a, "a");
                const std::int64_t m = py::len(samples);
                if (n_padded < a_view.n_rows || (n_padded & (n_padded - 1)) != 0) {
                    throw py::value_error("n_padded: a power of two at least a's row count");
                }
                const auto* sign_data = vector_data<std::int8_t>(signs, "signs", a_view.n_rows);
                const auto* sample_data = vector_data<std::int64_t>(samples, "samples", m);
                for (std::int64_t r = 0; r < m; ++r) {
                    if (sample_data[r] < 0 || sample_data[r] >= n_padded) throw py::value_error("samples: out of range");
                }
                return to_numpy(without_gil([&] { return sketch::srht(a_view, sign_data, sample_data, m, n_padded, scale); }));
            });
        },
        py::arg("a"), py::arg("signs"), py::arg("samples"), py::arg("n_padded"), py::arg("scale"),
        "scale * P H D A (flat, C order): D = diag(signs), H the n_padded Walsh-Hadamard matrix, P keeps samples.");

    m.def(
        "walsh_hadamard",
        [](const py::handle& z) {
            dispatch_value(z, "z", [&](auto value) -> py::object {
                using T = typename decltype(value)::type;
                auto array = fortran_matrix<T>(z, "z");
                const std::int64_t n = array.shape(0), columns = array.shape(1);
                if (n < 1 || (n & (n - 1)) != 0) throw py::value_error("z: row count must be a power of two");
                if (!array.writeable()) throw py::value_error("z: must be writeable");
                T* data = array.mutable_data();
                without_gil([&] {
                    parallel_for(columns, threads_for(sketch::walsh_hadamard_bytes<T>(n, columns)),
                                 [&](std::int64_t c, int) { sketch::walsh_hadamard(data + c * n, n); });
                    return 0;
                });
                return py::none();
            });
        },
        py::arg("z"), "Z <- H Z in place, for a Fortran-ordered Z whose row count is a power of two.");

    m.def(
        "residual_gradient",
        [](const py::handle& a, const py::handle& x, const py::handle& b) {
            return dispatch_value(a, "a", [&](auto value) -> py::object {
                using T = typename decltype(value)::type;
                const auto a_view = matrix_view<T>(a, "a");
                if (a_view.col_stride != 1 && a_view.row_stride != 1 && a_view.n_cols > 1) {
                    throw py::value_error("a: rows or columns must be contiguous");
                }
                const std::int64_t q = py::reinterpret_borrow<py::array>(x).ndim() == 2
                                           ? py::reinterpret_borrow<py::array>(x).shape(1) : -1;
                if (q < 0) throw py::value_error("x: expected a 2-D array");
                const T* x_data = matrix_data<T>(x, "x", a_view.n_cols, q);
                const T* b_data = matrix_data<T>(b, "b", a_view.n_rows, q);
                auto result = without_gil([&] { return sketch::residual_gradient(a_view, x_data, b_data, q); });
                return py::make_tuple(to_numpy(std::move(result.gradient)), to_numpy(std::move(result.residual_norms)));
            });
        },
        py::arg("a"), py::arg("x"), py::arg("b"),
        "(A^H (B - A X) flat, squared column norms of B - A X) for 2-D A, X (d x q) and B (n x q), C order.");

    m.def(
        "csr_residual_gradient",
        [](const py::tuple& a, const py::handle& x, const py::handle& b) {
            return with_csr_view(a, "a", [&](const auto& a_view) -> py::object {
                using T = std::remove_cv_t<std::remove_pointer_t<decltype(a_view.data)>>;
                if (!py::isinstance<py::array>(x)) throw py::type_error("x: expected a NumPy array");
                const auto x_array = py::reinterpret_borrow<py::array>(x);
                if (x_array.ndim() != 2) throw py::value_error("x: expected a 2-D array");
                const std::int64_t q = x_array.shape(1);
                const T* x_data = matrix_data<T>(x, "x", a_view.n_cols, q);
                const T* b_data = b.is_none() ? nullptr : matrix_data<T>(b, "b", a_view.n_rows, q);
                auto result = without_gil([&] { return sketch::residual_gradient_csr(a_view, x_data, b_data, q); });
                return py::make_tuple(to_numpy(std::move(result.gradient)), to_numpy(std::move(result.residual_norms)));
            });
        },
        py::arg("a"), py::arg("x"), py::arg("b"),
        "(A^H (B - A X) flat, squared column norms of B - A X) for a CSR tuple A (checked by the caller), X "
        "(d x q) and B (n x q) C order; B None: (-A^H A X, squared column norms of A X).");
}

}  // namespace pynla::bindings
