"""The HTTP baseline: a bare flask-smorest endpoint returning a constant, same routing shape."""

from flask import Flask
from flask.views import MethodView
from flask_smorest import Api, Blueprint

app = Flask(__name__)
app.config.update(API_TITLE="bare", API_VERSION="1", OPENAPI_VERSION="3.0.3")
api = Api(app)
blp = Blueprint("bare", __name__)

CONSTANT = {"postcode": "WV11 1AA", "latitude": 52.615855, "longitude": -2.089476}


@blp.route("/postcodes/<string:postcode>")
class Constant(MethodView):
    @blp.response(200)
    def get(self, postcode: str) -> dict:
        return CONSTANT


api.register_blueprint(blp)
