"""Fleet qualification on Ansible: many units (hosts, or multi-node groups run from their head
node) qualified by one `ansible-playbook` run, their reports gathered into one fleet report.

Modules: `inventory` (read an Ansible inventory into units, validated against the catalog),
`command` (the ansible-playbook argv, its environment and extra vars), `events` (what the
shipped callback plugin recorded per host and task), `gather` (each unit's fetched run
folders and what became of it), `drift` (fingerprint differences and performance outliers
across units of one profile), `report` (the fleet's summary.json, junit.xml and report.html),
`leftovers` (processes a unit's suite left behind), `runner` (all of it, in order).
Shipped data: `playbook.yml`, `ansible.cfg`, `plugins/fleet_events.py`, `fleet.schema.json`
and `templates/`.
"""
