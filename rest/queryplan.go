package rest

import (
	"net/http"

	"gatehouse/datastore"
)

// queryPlan reads $queryplan=true and $querypath=true and returns the fields 4D adds to a
// selection's answer: __queryPlan (the steps of the filter, naming indexes) and
// __queryPath (the same steps with how many entities each selects on its own). nil when
// neither is asked or there is no filter.
func (v *dataView) queryPlan(r *http.Request, dc *datastore.DataClass, q datastore.Query) (object, error) {
	plan, path := queryParam(r, "$queryplan"), queryParam(r, "$querypath")
	for _, p := range []string{plan, path} {
		if p != "" && p != "true" && p != "false" {
			return nil, errorf(http.StatusBadRequest, codeMalformedURL, "$queryplan and $querypath are true or false")
		}
	}
	if plan != "true" && path != "true" {
		return nil, nil
	}
	st, err := v.reader().Explain(v.ctx, dc, v.query(q), path == "true")
	if err != nil || st == nil {
		return nil, err
	}
	var out object
	if plan == "true" {
		out = append(out, field{"__queryPlan", planItem(st)})
	}
	if path == "true" {
		out = append(out, field{"__queryPath", object{{"steps", []any{pathStep(st)}}}})
	}
	return out, nil
}

func planItem(st *datastore.PlanStep) object {
	o := object{{"item", st.Description}}
	if len(st.Steps) > 0 {
		subs := make([]any, len(st.Steps))
		for i, s := range st.Steps {
			subs[i] = planItem(s)
		}
		o = append(o, field{"subquery", subs})
	}
	return o
}

func pathStep(st *datastore.PlanStep) object {
	o := object{{"description", st.Description}, {"recordsfounds", st.Found}}
	if len(st.Steps) > 0 {
		subs := make([]any, len(st.Steps))
		for i, s := range st.Steps {
			subs[i] = pathStep(s)
		}
		o = append(o, field{"steps", subs})
	}
	return o
}
