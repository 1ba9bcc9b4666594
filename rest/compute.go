package rest

import (
	"net/http"
	"strings"

	"gatehouse/datastore"
	"gatehouse/roles"
)

// computeOps are $compute's values (4D's), $all being every one of them.
var computeOps = []string{"count", "sum", "average", "min", "max"}

// compute handles "GET /rest/{DC}/{attr}?$compute=op" (op: count, sum, average, min, max,
// or $all for an object of every one) and "GET /rest/{DC}?$compute=count", over the
// selection $filter (and, for an entity set, its keys) selects; and
// "GET /rest/{DC}/{attr}?$distinct=true", the attribute's distinct values.
func (v *dataView) compute(w http.ResponseWriter, r *http.Request, dc *datastore.DataClass, attr string, q datastore.Query) error {
	if err := v.require(roles.Read, roles.DataClassResource(dc.Name)); err != nil {
		return err
	}
	q = v.query(q)
	q.Skip, q.Limit, q.OrderBy = 0, 0, ""
	var a *datastore.Attribute
	if attr != "" {
		if strings.Contains(attr, ",") {
			return errorf(http.StatusBadRequest, codeMalformedURL, "$compute and $distinct apply to one attribute")
		}
		if a = dc.Attribute(attr); a == nil || !v.readable(dc, a) {
			return errorf(http.StatusNotFound, codeUnknownAttribute, "Unknown attribute %q", attr)
		}
	}
	data := v.lastReader() // one read: a count, an aggregate or the distinct values
	if d := queryParam(r, "$distinct"); d != "" {
		if d != "true" || a == nil {
			return errorf(http.StatusBadRequest, codeMalformedURL, "$distinct=true applies to an attribute: /rest/{DC}/{attr}?$distinct=true")
		}
		vals, err := data.Distinct(v.ctx, dc, q, a.Name)
		if err != nil {
			return err
		}
		for i, x := range vals {
			vals[i] = jsonValue(x)
		}
		writeJSON(w, http.StatusOK, vals)
		return nil
	}
	op := queryParam(r, "$compute")
	known := op == "$all"
	for _, o := range computeOps {
		known = known || op == o
	}
	if !known {
		return errorf(http.StatusBadRequest, codeMalformedURL, "$compute must be count, sum, average, min, max or $all")
	}
	if a == nil {
		if op != "count" {
			return errorf(http.StatusBadRequest, codeMalformedURL, "$compute=%s needs an attribute: /rest/{DC}/{attr}?$compute=%s", op, op)
		}
		n, err := data.Count(v.ctx, dc, q)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, n)
		return nil
	}
	numeric := a.Type == datastore.TypeLong || a.Type == datastore.TypeNumber
	if (op == "sum" || op == "average") && !numeric {
		return errorf(http.StatusBadRequest, codeMalformedURL, "$compute=%s needs a number attribute", op)
	}
	agg, err := data.Aggregate(v.ctx, dc, q, a.Name)
	if err != nil {
		return err
	}
	values := map[string]any{"count": agg.Count, "sum": agg.Sum, "average": agg.Average,
		"min": jsonValue(agg.Min), "max": jsonValue(agg.Max)}
	if op != "$all" {
		writeJSON(w, http.StatusOK, values[op])
		return nil
	}
	all := object{{"count", agg.Count}}
	if numeric {
		all = append(all, field{"sum", agg.Sum}, field{"average", agg.Average})
	}
	all = append(all, field{"min", values["min"]}, field{"max", values["max"]})
	writeJSON(w, http.StatusOK, object{{a.Name, all}})
	return nil
}
