"""Pure logic, no Pulumi import: address plans, ports/peers/flows, tiers, naming, SLO maths, receiver names,
user-data and inventory rendering, errors and argument documentation. Imported by every layer above."""
