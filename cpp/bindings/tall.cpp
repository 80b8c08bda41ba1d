// pynla._core tall-skinny passes: the Gram matrix of a tall Y and Y <- Y U in place
// (tall/gram.hpp), for Cholesky QR, on C- or Fortran-ordered Y. The caller holds the BLAS to one
// thread.
#include "pynla/tall/gram.hpp"

#include <algorithm>
#include <tuple>

#include "common.hpp"

namespace pynla::bindings {

namespace {

// Y as the kernels take it: (data, leading dimension, layout) of a C- or Fortran-ordered 2-D
// array of exactly T.
template <class T>
std::tuple<T*, std::int64_t, tall::Layout> tall_matrix(const py::handle& object, const char* what) {
    if (!py::isinstance<py::array_t<T>>(object)) {
        throw py::type_error(std::string(what) + ": expected an array of " + py::str(py::dtype::of<T>()).cast<std::string>());
    }
    auto array = py::reinterpret_borrow<py::array>(object);
    if (array.ndim() != 2) throw py::value_error(std::string(what) + ": expected a 2-D array");
    if (!array.writeable()) throw py::value_error(std::string(what) + ": expected a writeable array");
    const std::int64_t rows = array.shape(0), columns = array.shape(1);
    auto* data = static_cast<T*>(array.mutable_data());
    if (array.flags() & py::array::f_style) return {data, std::max<std::int64_t>(rows, 1), tall::Layout::kColumnMajor};
    if (array.flags() & py::array::c_style) return {data, std::max<std::int64_t>(columns, 1), tall::Layout::kRowMajor};
    throw py::value_error(std::string(what) + ": expected a C- or Fortran-ordered array");
}

}  // namespace

void bind_tall(py::module_& m) {
    m.def(
        "tall_gram",
        [](const py::handle& y_in) -> py::object {
            return dispatch_value(y_in, "y", [&](auto tag) -> py::object {
                using T = typename decltype(tag)::type;
                const auto [y, ld, layout] = tall_matrix<T>(y_in, "y");
                const auto shape = py::reinterpret_borrow<py::array>(y_in);
                const std::int64_t rows = shape.shape(0), columns = shape.shape(1);
                py::array_t<T, py::array::f_style> g({columns, columns});
                T* g_data = g.mutable_data();
                without_gil([&, y = y, ld = ld, layout = layout] { tall::gram(y, ld, rows, columns, layout, g_data); });
                return std::move(g);
            });
        },
        py::arg("y"), "Y^H Y for a C- or Fortran-ordered Y: the same bits for any thread count.");

    m.def(
        "tall_times_upper",
        [](const py::handle& y_in, const py::handle& u_in) {
            dispatch_value(y_in, "y", [&](auto tag) -> py::object {
                using T = typename decltype(tag)::type;
                const auto [y, ld, layout] = tall_matrix<T>(y_in, "y");
                const auto u = fortran_matrix<T>(u_in, "u");
                const auto shape = py::reinterpret_borrow<py::array>(y_in);
                const std::int64_t rows = shape.shape(0), columns = shape.shape(1);
                if (u.shape(0) != columns || u.shape(1) != columns) throw py::value_error("u: expected y.shape[1] rows and columns");
                without_gil([&, y = y, ld = ld, layout = layout] { tall::times_upper(y, ld, rows, columns, layout, u.data()); });
                return py::none();
            });
        },
        py::arg("y"), py::arg("u"), "Y <- Y U in place, for C- or Fortran-ordered Y and upper triangular U.");
}

}  // namespace pynla::bindings
