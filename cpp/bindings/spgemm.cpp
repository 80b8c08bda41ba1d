// pynla._core.spgemm and spgemm_into_pattern: the sparse x sparse products of
// pynla/spgemm/multiply.hpp and pynla/spgemm/numeric.hpp.
#include "pynla/spgemm/multiply.hpp"
#include "pynla/spgemm/numeric.hpp"

#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <type_traits>

#include "common.hpp"

namespace pynla::bindings {

namespace {

template <class S, class I, class T>
py::tuple spgemm_typed(const py::tuple& a_in, const py::tuple& b_in, bool sort_indices,
                       std::optional<bool> b_rows_sorted, const py::object& mask_in, bool complement, bool upper) {
    const auto a = csr_view<I, T>(a_in, "a");  // borrowed: the tuples keep the arrays alive
    const auto b = csr_view<I, T>(b_in, "b");
    const spgemm::Options options{sort_indices, b_rows_sorted};
    Csr<I, T> c;
    if (upper) {
        if (!mask_in.is_none()) throw py::value_error("spgemm: a mask or the upper triangle, not both");
        c = without_gil([&] { return spgemm::multiply_upper<S>(a, b, options); });
    } else if (mask_in.is_none()) {
        c = without_gil([&] { return spgemm::multiply<S>(a, b, options); });
    } else {
        const auto mask_tuple = mask_in.cast<py::tuple>();
        if (mask_tuple.size() != 2) throw py::value_error("mask: expected (indptr, indices)");
        const I* indptr = vector_data<I>(mask_tuple[0], "mask indptr", a.n_rows + 1);
        const spgemm::MaskView<I> mask{indptr, vector_data<I>(mask_tuple[1], "mask indices", indptr[a.n_rows]),
                                       complement};
        c = without_gil([&] { return spgemm::multiply_masked<S>(a, b, mask, options); });
    }
    return csr_to_python(std::move(c));
}

template <class I, class T>
void spgemm_into_pattern_typed(const py::tuple& a_in, const py::tuple& b_in, const py::handle& c_indptr,
                               const py::handle& c_indices, const py::handle& out) {
    const auto a = csr_view<I, T>(a_in, "a");
    const auto b = csr_view<I, T>(b_in, "b");
    const I* indptr = vector_data<I>(c_indptr, "c_indptr", a.n_rows + 1);
    const std::int64_t nnz = indptr[a.n_rows];
    const I* indices = vector_data<I>(c_indices, "c_indices", nnz);
    T* values = mutable_vector_data<T>(out, "out", nnz);
    py::gil_scoped_release no_gil;
    spgemm::multiply_into_pattern(a, b, indptr, indices, values);
}

// Calls body(Tag<S>{}) for the semiring called `name` (pynla/spgemm.py's SEMIRINGS).
template <class Body>
py::object dispatch_semiring(const std::string& name, Body&& body) {
    if (name == "plus_times") return body(Tag<spgemm::PlusTimes>{});
    if (name == "min_plus") return body(Tag<spgemm::MinPlus>{});
    if (name == "max_plus") return body(Tag<spgemm::MaxPlus>{});
    if (name == "max_times") return body(Tag<spgemm::MaxTimes>{});
    if (name == "or_and") return body(Tag<spgemm::OrAnd>{});
    if (name == "plus_pair") return body(Tag<spgemm::PlusPair>{});
    throw py::value_error("semiring: unknown semiring " + name);
}

// Calls body(Tag<I>{}, Tag<T>{}) for the index dtype of `indices` and the value dtype of `data`:
// bytes (bool values) for or_and, the floating kernel dtypes for the other semirings.
template <class S, class Body>
py::object dispatch_semiring_types(const py::handle& indices, const py::handle& data, Body&& body) {
    if constexpr (std::is_same_v<S, spgemm::OrAnd>) {
        if (py::isinstance<py::array_t<std::int32_t>>(indices)) return body(Tag<std::int32_t>{}, Tag<std::uint8_t>{});
        if (py::isinstance<py::array_t<std::int64_t>>(indices)) return body(Tag<std::int64_t>{}, Tag<std::uint8_t>{});
        throw py::type_error("indices: expected int32 or int64 indices");
    } else {
        return dispatch_index_value(indices, data, std::forward<Body>(body));
    }
}

}  // namespace

void bind_spgemm(py::module_& m) {
    m.def(
        "spgemm",
        [](const py::tuple& a, const py::tuple& b, bool sort_indices, std::optional<bool> b_rows_sorted,
           const py::object& mask, bool complement, const std::string& semiring, bool upper) {
            return dispatch_semiring(semiring, [&](auto semiring_tag) {
                using S = typename decltype(semiring_tag)::type;
                return dispatch_semiring_types<S>(a[1], a[2], [&](auto index, auto value) -> py::object {
                    using I = typename decltype(index)::type;
                    using T = typename decltype(value)::type;
                    if constexpr (S::template kTakes<T>) {
                        return spgemm_typed<S, I, T>(a, b, sort_indices, b_rows_sorted, mask, complement, upper);
                    } else {
                        throw py::type_error("semiring " + semiring + ": values of a type it does not take");
                    }
                });
            });
        },
        py::arg("a"), py::arg("b"), py::kw_only(), py::arg("sort_indices"), py::arg("b_rows_sorted") = py::none(),
        py::arg("mask") = py::none(), py::arg("complement") = false, py::arg("semiring") = "plus_times",
        py::arg("upper") = false,
        "C = A B for CSR tuples (indptr, indices, data, shape) of one index and one value dtype.\n"
        "b_rows_sorted: whether every row of B lists its columns in non-decreasing order (None: the kernel checks).\n"
        "mask: None, or (indptr, indices) of a checked pattern of C's shape in A's index dtype: only the entries\n"
        "of A B there (outside it, with complement) are computed.\n"
        "semiring: plus_times (any kernel dtype), min_plus, max_plus, max_times (float32, float64), or_and\n"
        "(uint8 values 0 and 1), plus_pair (float64; values not read).\n"
        "upper: only the entries with column >= row (no mask with it).\n"
        "Returns (indptr, indices, data). Raises OverflowError, before any work, if nnz(C) may not fit the\n"
        "index dtype (the product count, which bounds it, does not).");

    m.def(
        "spgemm_into_pattern",
        [](const py::tuple& a, const py::tuple& b, const py::handle& c_indptr, const py::handle& c_indices,
           const py::handle& out) {
            dispatch_index_value(a[1], a[2], [&](auto index, auto value) {
                using I = typename decltype(index)::type;
                using T = typename decltype(value)::type;
                spgemm_into_pattern_typed<I, T>(a, b, c_indptr, c_indices, out);
                return py::none();
            });
        },
        py::arg("a"), py::arg("b"), py::arg("c_indptr"), py::arg("c_indices"), py::arg("out"),
        "Writes the values of C = A B into out, in the pattern (c_indptr, c_indices): CSR with sorted rows\n"
        "that hold every column the products of each row reach (the caller's guarantee: it is the pattern\n"
        "of the product of A's and B's patterns). A and B are CSR tuples of one index and one value dtype;\n"
        "the pattern has A's index dtype and out its value dtype.");
}

}  // namespace pynla::bindings
