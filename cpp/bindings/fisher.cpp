// pynla._core inverse-Fisher kernels (pynla/fisher/): the passes over the gradients that
// pynla/fisher.py's products make.
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

// G as a view with contiguous rows (a C-ordered 2-D array, or rows at any row stride).
template <class T>
MatrixView<T> gradients_view(const py::handle& g) {
    const MatrixView<T> view = matrix_view<T>(g, "g");
    if (view.col_stride != 1 && view.n_cols > 1) throw py::value_error("g: expected contiguous rows");
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
}

}  // namespace pynla::bindings
