"""python -m services.handoff"""

from services.serve import serve

serve("handoff")
