package datastore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
)

// Seed loads initial entities into the dataclasses named in data, a JSON object
// {"DataClass": [{attribute: value, ...}, ...], ...}, in one transaction: all or nothing.
// Dataclasses are filled in the order of the model (so list N->1 targets first), and a
// dataclass that already holds entities is left alone, so seeding twice changes nothing.
// Relations are given as the related key (or {"__KEY": key}).
func (db *DB) Seed(ctx context.Context, data []byte) (int, error) {
	var byName map[string][]map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&byName); err != nil {
		return 0, fmt.Errorf("datastore: seed: %w", err)
	}
	m := db.Model()
	for name := range byName {
		if m.DataClass(name) == nil {
			return 0, fmt.Errorf("datastore: seed: %w: %q", ErrUnknownDataClass, name)
		}
	}
	var all []*Entity
	for _, dc := range m.DataClasses {
		items := byName[dc.Name]
		if len(items) == 0 {
			continue
		}
		n, err := db.Count(ctx, dc, Query{})
		if err != nil {
			return 0, err
		}
		if n > 0 {
			continue
		}
		for _, item := range items {
			e := dc.NewEntity()
			for k, v := range item {
				if num, ok := v.(json.Number); ok {
					f, err := num.Float64()
					if err != nil {
						return 0, &ValueError{Attribute: k, Message: "not a number"}
					}
					v = f
				}
				e.Values[k] = v
			}
			all = append(all, e)
		}
	}
	if len(all) == 0 {
		return 0, nil
	}
	if _, err := db.SaveAll(ctx, all); err != nil {
		return 0, fmt.Errorf("datastore: seed: %w", err)
	}
	return len(all), nil
}
