// pynla._core kernels of the Krylov solvers (pynla/krylov/): CSR products with vectors and
// blocks, the Arnoldi orthogonalization against a basis, and the vector updates of CG. The
// solvers run in float64 or complex128.
#include "pynla/krylov/cg_updates.hpp"
#include "pynla/krylov/csr_matvec.hpp"
#include "pynla/krylov/orthogonalize.hpp"

#include "common.hpp"

namespace pynla::bindings {

namespace {

// Calls body(Tag<T>{}) for float64 or complex128 `values`.
template <class Body>
py::object dispatch_solver_value(const py::handle& values, const char* what, Body&& body) {
    if (py::isinstance<py::array_t<double>>(values)) return body(Tag<double>{});
    if (py::isinstance<py::array_t<std::complex<double>>>(values)) return body(Tag<std::complex<double>>{});
    throw py::type_error(std::string(what) + ": expected float64 or complex128 values");
}

// A Fortran-ordered basis whose first p columns are used, with n rows: (data, leading dimension).
template <class T>
std::pair<const T*, std::int64_t> basis_columns(const py::handle& q_in, std::int64_t p, std::int64_t n,
                                                const char* what) {
    const auto q = fortran_matrix<T>(q_in, what);
    if (q.shape(0) != n) throw py::value_error(std::string(what) + ": expected " + std::to_string(n) + " rows");
    if (p < 0 || p > q.shape(1)) throw py::value_error(std::string(what) + ": p is outside its columns");
    return {q.data(), std::max<std::int64_t>(n, 1)};
}

template <class I, class T>
py::object csr_matvec_typed(const CsrView<I, T>& a, const py::handle& x_in) {
    const auto x_array = py::reinterpret_borrow<py::array>(x_in);
    if (x_array.ndim() == 1) {
        const T* x = vector_data<T>(x_in, "x", a.n_cols);
        Buffer<T> y(a.n_rows);
        without_gil([&] { krylov::csr_matvec(a, x, 1, y.data()); });
        return to_numpy(std::move(y));
    }
    const auto [x, k] = matrix_rows<T>(x_in, "x", a.n_cols);
    Buffer<T> y(a.n_rows * k);
    without_gil([&, x = x, k = k] { krylov::csr_matvec(a, x, k, y.data()); });
    return to_numpy(std::move(y)).reshape({a.n_rows, k});
}

}  // namespace

void bind_krylov(py::module_& m) {
    m.def(
        "csr_matvec",
        [](const py::tuple& a, const py::handle& x) -> py::object {
            return with_csr_view(a, "a", [&](const auto& view) { return csr_matvec_typed(view, x); });
        },
        py::arg("a"), py::arg("x"),
        "A @ x for a checked CSR tuple (indptr, indices, data, shape) and x of A's dtype: 1-D, or 2-D\n"
        "C-contiguous. Rows summed in stored order: the same bits for any thread count.");

    m.def(
        "krylov_orthogonalize",
        [](const py::handle& q, std::int64_t p, const py::handle& w) -> py::object {
            return dispatch_solver_value(w, "w", [&](auto tag) -> py::object {
                using T = typename decltype(tag)::type;
                const std::int64_t n = py::reinterpret_borrow<py::array>(w).shape(0);
                T* w_data = mutable_vector_data<T>(w, "w", n);
                const auto [q_data, ldq] = basis_columns<T>(q, p, n, "q");
                Buffer<T> h(p);
                const double norm = without_gil(
                    [&, q_data = q_data, ldq = ldq] { return krylov::orthogonalize(q_data, ldq, p, w_data, n, h.data()); });
                return py::make_tuple(to_numpy(std::move(h)), norm);
            });
        },
        py::arg("q"), py::arg("p"), py::arg("w"),
        "(h, norm): w -= Q (Q^H w) twice (classical Gram-Schmidt with reorthogonalization) against the\n"
        "first p columns of the Fortran-ordered q, in place; h the coefficients, norm ||w|| after.");

    m.def(
        "krylov_project",
        [](const py::handle& q, std::int64_t p, const py::handle& w) -> py::object {
            return dispatch_solver_value(w, "w", [&](auto tag) -> py::object {
                using T = typename decltype(tag)::type;
                const std::int64_t n = py::reinterpret_borrow<py::array>(w).shape(0);
                const T* w_data = vector_data<T>(w, "w", n);
                const auto [q_data, ldq] = basis_columns<T>(q, p, n, "q");
                Buffer<T> h(p);
                without_gil([&, q_data = q_data, ldq = ldq] { krylov::project(q_data, ldq, p, w_data, n, h.data()); });
                return to_numpy(std::move(h));
            });
        },
        py::arg("q"), py::arg("p"), py::arg("w"), "Q^H w for the first p columns of the Fortran-ordered q.");

    m.def(
        "cg_advance",
        [](const py::object& alpha, const py::handle& p, const py::handle& q, const py::handle& x,
           const py::handle& r) -> py::object {
            return dispatch_solver_value(x, "x", [&](auto tag) -> py::object {
                using T = typename decltype(tag)::type;
                const std::int64_t n = py::reinterpret_borrow<py::array>(x).shape(0);
                const T a = alpha.cast<T>();
                const T* p_data = vector_data<T>(p, "p", n);
                const T* q_data = vector_data<T>(q, "q", n);
                T* x_data = mutable_vector_data<T>(x, "x", n);
                T* r_data = mutable_vector_data<T>(r, "r", n);
                return py::float_(without_gil([&] { return krylov::cg_advance(a, p_data, q_data, x_data, r_data, n); }));
            });
        },
        py::arg("alpha"), py::arg("p"), py::arg("q"), py::arg("x"), py::arg("r"),
        "x += alpha p and r -= alpha q in place; returns ||r||^2.");

    m.def(
        "cg_direction",
        [](const py::object& beta, const py::handle& z, const py::handle& w, const py::handle& mu, const py::handle& p,
           const py::handle& p_next) -> py::object {
            return dispatch_solver_value(p, "p", [&](auto tag) -> py::object {
                using T = typename decltype(tag)::type;
                const std::int64_t n = py::reinterpret_borrow<py::array>(p).shape(0);
                const std::int64_t k = py::reinterpret_borrow<py::array>(mu).shape(0);
                const T b = beta.cast<T>();
                const T* z_data = vector_data<T>(z, "z", n);
                const T* mu_data = vector_data<T>(mu, "mu", k);
                const auto [w_data, ldw] = basis_columns<T>(w, k, n, "w");
                const T* p_data = vector_data<T>(p, "p", n);
                T* next = mutable_vector_data<T>(p_next, "p_next", n);
                without_gil([&, w_data = w_data, ldw = ldw] {
                    krylov::cg_direction(b, z_data, w_data, ldw, k, mu_data, p_data, next, n);
                });
                return py::none();
            });
        },
        py::arg("beta"), py::arg("z"), py::arg("w"), py::arg("mu"), py::arg("p"), py::arg("p_next"),
        "p_next = z + beta p - W mu, for the first len(mu) columns of the Fortran-ordered w (p_next may be p).");
}

}  // namespace pynla::bindings
