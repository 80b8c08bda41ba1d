// pynla._core tall-skinny passes (tall/gram.hpp, tall/project.hpp): the Gram matrix of a tall Y
// (with Y^H B for a right-hand side B), Y <- Y U or Y <- Y U^-1 in place, for Cholesky QR and
// least squares, on Y whose rows or columns are contiguous; and Y <- Y - P (P^H Y) for block
// Gram-Schmidt. The caller holds the BLAS to one thread.
#include "pynla/tall/gram.hpp"
#include "pynla/tall/project.hpp"

#include <algorithm>
#include <tuple>

#include "common.hpp"

namespace pynla::bindings {

namespace {

// Y as the kernels take it: (data, leading dimension, layout) of a 2-D array of exactly T whose
// columns (column-major) or rows (row-major) are contiguous, each starting a whole number of
// elements past the last, without overlap.
template <class T>
std::tuple<T*, std::int64_t, tall::Layout> tall_matrix(const py::handle& object, const char* what, bool writeable) {
    if (!py::isinstance<py::array_t<T>>(object)) {
        throw py::type_error(std::string(what) + ": expected an array of " + py::str(py::dtype::of<T>()).cast<std::string>());
    }
    auto array = py::reinterpret_borrow<py::array>(object);
    if (array.ndim() != 2) throw py::value_error(std::string(what) + ": expected a 2-D array");
    if (writeable && !array.writeable()) throw py::value_error(std::string(what) + ": expected a writeable array");
    const std::int64_t rows = array.shape(0), columns = array.shape(1), item = sizeof(T);
    auto* data = static_cast<T*>(const_cast<void*>(array.data()));
    if (array.flags() & py::array::f_style) return {data, std::max<std::int64_t>(rows, 1), tall::Layout::kColumnMajor};
    if (array.flags() & py::array::c_style) return {data, std::max<std::int64_t>(columns, 1), tall::Layout::kRowMajor};
    const std::int64_t row_stride = array.strides(0), column_stride = array.strides(1);
    if (row_stride == item && column_stride % item == 0 && column_stride / item >= rows) {
        return {data, column_stride / item, tall::Layout::kColumnMajor};
    }
    if (column_stride == item && row_stride % item == 0 && row_stride / item >= columns) {
        return {data, row_stride / item, tall::Layout::kRowMajor};
    }
    throw py::value_error(std::string(what) + ": expected contiguous rows or columns");
}

std::pair<std::int64_t, std::int64_t> shape_of(const py::handle& object) {
    const auto array = py::reinterpret_borrow<py::array>(object);
    return {array.shape(0), array.shape(1)};
}

}  // namespace

void bind_tall(py::module_& m) {
    m.def(
        "tall_gram",
        [](const py::handle& y_in, const py::object& b_in) -> py::object {
            return dispatch_value(y_in, "y", [&](auto tag) -> py::object {
                using T = typename decltype(tag)::type;
                const auto [y, ld, layout] = tall_matrix<T>(y_in, "y", false);
                const auto [rows, columns] = shape_of(y_in);
                py::array_t<T, py::array::f_style> g({columns, columns});
                T* g_data = g.mutable_data();
                if (b_in.is_none()) {
                    without_gil([&, y = y, ld = ld, layout = layout] { tall::gram<T>(y, ld, rows, columns, layout, g_data); });
                    return std::move(g);
                }
                const auto [b, q] = matrix_rows<T>(b_in, "b", rows);
                py::array_t<T, py::array::f_style> c({columns, q});
                const tall::CrossProduct<T> cross{b, q, c.mutable_data()};
                without_gil([&, y = y, ld = ld, layout = layout] { tall::gram<T>(y, ld, rows, columns, layout, g_data, cross); });
                return py::make_tuple(std::move(g), std::move(c));
            });
        },
        py::arg("y"), py::arg("b") = py::none(),
        "Y^H Y, or (Y^H Y, Y^H B) for a C-contiguous B of Y's rows: the same bits for any thread count.");

    m.def(
        "tall_times_upper",
        [](const py::handle& y_in, const py::handle& u_in, bool inverse) {
            dispatch_value(y_in, "y", [&](auto tag) -> py::object {
                using T = typename decltype(tag)::type;
                const auto [y, ld, layout] = tall_matrix<T>(y_in, "y", true);
                const auto u = fortran_matrix<T>(u_in, "u");
                const auto [rows, columns] = shape_of(y_in);
                if (u.shape(0) != columns || u.shape(1) != columns) throw py::value_error("u: expected y.shape[1] rows and columns");
                without_gil([&, y = y, ld = ld, layout = layout] {
                    if (inverse) {
                        tall::solve_upper(y, ld, rows, columns, layout, u.data());
                    } else {
                        tall::times_upper(y, ld, rows, columns, layout, u.data());
                    }
                });
                return py::none();
            });
        },
        py::arg("y"), py::arg("u"), py::arg("inverse") = false,
        "Y <- Y U (or Y U^-1 with inverse=True) in place, for upper triangular U with a nonzero diagonal.");

    m.def(
        "tall_project_out",
        [](const py::handle& p_in, const py::handle& y_in) -> py::object {
            return dispatch_value(y_in, "y", [&](auto tag) -> py::object {
                using T = typename decltype(tag)::type;
                const auto [y, ldy, y_layout] = tall_matrix<T>(y_in, "y", true);
                const auto [p, ldp, p_layout] = tall_matrix<T>(p_in, "p", false);
                const auto [rows, block_columns] = shape_of(y_in);
                const auto [p_rows, basis_columns] = shape_of(p_in);
                if (y_layout != tall::Layout::kColumnMajor || p_layout != tall::Layout::kColumnMajor) {
                    throw py::value_error("p, y: expected Fortran-ordered arrays (or contiguous columns)");
                }
                if (p_rows != rows) throw py::value_error("p: expected y's rows");
                py::array_t<T, py::array::f_style> c({basis_columns, block_columns});
                T* c_data = c.mutable_data();
                without_gil([&, p = p, ldp = ldp, y = y, ldy = ldy] {
                    tall::project_out<T>(p, ldp, y, ldy, rows, basis_columns, block_columns, c_data);
                });
                return std::move(c);
            });
        },
        py::arg("p"), py::arg("y"),
        "C = P^H Y and Y <- Y - P C in place, for column-major P and Y: the same bits for any thread count.");
}

}  // namespace pynla::bindings
