// pynla._core inverse-Fisher kernels (pynla/fisher/): the passes over the gradients that
// pynla/fisher.py's products make.
#include "pynla/fisher/blocked.hpp"
#include "pynla/fisher/gradient_products.hpp"

#include "common.hpp"

namespace pynla::bindings {

namespace {

// Calls body(Tag<T>{}) for float32 or float64 gradients.
template <class Body>
py::object dispatch_real(const py::handle& g, Body&& body) {
    if (py::isinstance<py::array_t<float>>(g)) return body(Tag<float>{});
    if (py::isinstance<py::array_t<double>>(g)) return body(Tag<double>{});
    throw py::type_error("g: expected float32 or float64 gradients");
}

// The factors of blocked_factors for G's shape and block size, as numpy gave them back.
const double* blocked_factor_data(const py::handle& factors, std::int64_t m, std::int64_t d, std::int64_t block) {
    if (block < 1) throw py::value_error("block: must be at least 1");
    return vector_data<double>(factors, "factors", fisher::block_count(d, block) * fisher::packed_size(m));
}

// G as a view with contiguous rows (a C-ordered 2-D array, or rows at any row stride).
template <class T>
MatrixView<T> gradients_view(const py::handle& g) {
    const MatrixView<T> view = matrix_view<T>(g, "g");
    // (An empty array's strides are whatever numpy chose: nothing is read through them.)
    if (view.col_stride != 1 && view.n_cols > 1 && view.n_rows > 0) throw py::value_error("g: expected contiguous rows");
    return {view.data, view.n_rows, view.n_cols, view.row_stride, 1};
}

}  // namespace

void bind_fisher(py::module_& m) {
    m.def(
        "fisher_gradient_dots",
        [](const py::handle& g, const py::handle& x) {
            return dispatch_real(g, [&](auto value) -> py::object {
                using T = typename decltype(value)::type;
                const auto view = gradients_view<T>(g);
                const T* x_data = vector_data<T>(x, "x", view.n_cols);
                return to_numpy(without_gil([&] { return fisher::gradient_dots(view, x_data); }));
            });
        },
        py::arg("g"), py::arg("x"), "c = G x for gradients G (m x d, rows contiguous) and x of d values.");

    m.def(
        "fisher_damped_combination",
        [](const py::handle& g, const py::handle& w, const py::handle& x, double scale) {
            return dispatch_real(g, [&](auto value) -> py::object {
                using T = typename decltype(value)::type;
                const auto view = gradients_view<T>(g);
                const T* w_data = vector_data<T>(w, "w", view.n_rows);
                const T* x_data = vector_data<T>(x, "x", view.n_cols);
                return to_numpy(without_gil(
                    [&] { return fisher::damped_combination(view, w_data, x_data, static_cast<T>(scale)); }));
            });
        },
        py::arg("g"), py::arg("w"), py::arg("x"), py::arg("scale"),
        "y = scale (x - G^T w) for gradients G (m x d, rows contiguous), w of m values, x of d.");

    m.def(
        "fisher_blocked_factors",
        [](const py::handle& g, std::int64_t block, double shift) {
            if (block < 1) throw py::value_error("block: must be at least 1");
            return dispatch_real(g, [&](auto value) -> py::object {
                using T = typename decltype(value)::type;
                const auto view = gradients_view<T>(g);
                auto result = without_gil([&] { return fisher::blocked_factors(view, block, shift); });
                return py::make_tuple(to_numpy(std::move(result.factors)), result.failed_block);
            });
        },
        py::arg("g"), py::arg("block"), py::arg("shift"),
        "(the lower Cholesky factors of shift I + G_b G_b^T for each block of coordinates, packed by\n"
        "rows, flat float64;\n"
        "the first block not positive definite in G's precision, or -1).");

    m.def(
        "fisher_blocked_product",
        [](const py::handle& g, std::int64_t block, const py::handle& factors, const py::handle& x, double scale) {
            return dispatch_real(g, [&](auto value) -> py::object {
                using T = typename decltype(value)::type;
                const auto view = gradients_view<T>(g);
                const double* l = blocked_factor_data(factors, view.n_rows, view.n_cols, block);
                const auto [x_data, k] = matrix_rows<T>(x, "x", view.n_cols);
                return to_numpy(without_gil([&, x_data = x_data, k = k] {
                    return fisher::blocked_inverse_product(view, block, l, x_data, k, k, static_cast<T>(scale));
                }));
            });
        },
        py::arg("g"), py::arg("block"), py::arg("factors"), py::arg("x"), py::arg("scale"),
        "Y = scale (X - G^T K^-1 G X) block by block, X d x k C-ordered; Y flat, row-major.");

    m.def(
        "fisher_blocked_diagonal",
        [](const py::handle& g, std::int64_t block, const py::handle& factors, double scale) {
            return dispatch_real(g, [&](auto value) -> py::object {
                using T = typename decltype(value)::type;
                const auto view = gradients_view<T>(g);
                const double* l = blocked_factor_data(factors, view.n_rows, view.n_cols, block);
                return to_numpy(without_gil(
                    [&] { return fisher::blocked_inverse_diagonal(view, block, l, static_cast<T>(scale)); }));
            });
        },
        py::arg("g"), py::arg("block"), py::arg("factors"), py::arg("scale"),
        "The diagonal of the blocked inverse: scale (1 - ||L_b^-1 g_(j)||^2) for each coordinate j.");
}

}  // namespace pynla::bindings
