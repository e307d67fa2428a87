"""The logic behind the Cloudflare Agent Memory face (COMPAT §1): the
offline classifier and summary line (classify.py), the extractive answer
(answer.py). Pure functions; the face and the service call them."""
